// lethe export: what serves now, in Hugging Face layout (src/serving/hf_export.h).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "src/cli/context.h"
#include "src/serving/hf_export.h"

namespace lethe {

void add_export_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "export",
      "Write what serves now as files Hugging Face tools read: the base in Hugging Face layout "
      "(config.json, model.safetensors; BERT with its tokenizer), per serving shard its live "
      "chain as one PEFT LoRA adapter with its classification head, and manifest.json naming the "
      "components and the ledger head it reflects. Switched-off components are never exported");
  auto out = std::make_shared<std::string>();
  auto mode = std::make_shared<std::optional<std::string>>();
  cmd->add_option("--out", *out, "Directory to create (must not exist)")->required();
  cmd->add_option("--mode", *mode, "Which trained model: s3t, sisa, full or dp2 (default: train.mode)");
  commands.push_back({cmd, [out, mode](Context& ctx) {
                        Workspace ws = open_workspace(ctx.options.workspace);
                        const std::string m = mode->value_or(ctx.config.train.mode);
                        const nlohmann::json manifest = export_hf(ws, ctx.config, m, *out);
                        std::string human = fmt::format("Exported the {} model ({} base, {} of {} shards serving) to {}",
                                                        m, manifest["base"]["arch"].get<std::string>(),
                                                        manifest["shards"].size(),
                                                        manifest["total_shards"].get<int>(), *out);
                        for (const auto& s : manifest["shards"]) {
                          human += fmt::format("\n  {}: {} stage(s), LoRA groups {}", s["dir"].get<std::string>(),
                                               s["stages"].get<size_t>(), s["groups"].dump());
                        }
                        ctx.out.result(manifest, human);
                      }});
}

}  // namespace lethe
