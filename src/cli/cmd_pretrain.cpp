// lethe pretrain: train the base model on the public split; lethe import-base: adopt an
// external checkpoint as the base instead.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/cli/context.h"
#include "src/cli/train_job.h"
#include "src/common/error.h"
#include "src/trainers/import_base.h"
#include "src/trainers/pretrain.h"

namespace lethe {

namespace {

nlohmann::json base_json(const BaseModel& base) {
  return {{"file", base.file}, {"hash", base.hash}, {"spec", spec_to_json(base.spec)}};
}

void run_pretrain(Context& ctx) {
  JobWorkspace job;  // rank 0 writes; under mpirun the others read
  open_job_workspace(ctx, job);
  const PretrainReport r = pretrain(job.ws(), ctx.comm, ctx.config, ctx.progress(), *ctx.log);
  if (!ctx.comm.is_root()) return;
  nlohmann::json j = {
      {"records", r.records},
      {"steps", r.steps},
      {"final_loss", r.final_loss},
      {"test", {{"records", r.test.records},
                {"accuracy", r.test.accuracy},
                {"majority_accuracy", r.test.majority_accuracy},
                {"chance", r.test.chance}}},
      {"seconds", r.seconds},
      {"base", base_json(r.base)}};
  std::string perplexity;
  if (r.test.perplexity > 0) {
    j["test"]["perplexity"] = r.test.perplexity;
    perplexity = fmt::format(", next-token perplexity {:.2f}", r.test.perplexity);
  }
  ctx.out.result(j, fmt::format(
      "Pretrained a {} base on {} public records ({} steps, {:.1f} s, final loss {:.4f})\n"
      "  test accuracy {:.2f}% on {} records (majority class {:.2f}%, chance {:.2f}%){}\n"
      "  stored {} (hash {})",
      r.base.spec.arch, r.records, r.steps, r.seconds, r.final_loss, 100 * r.test.accuracy,
      r.test.records, 100 * r.test.majority_accuracy, 100 * r.test.chance, perplexity, r.base.file,
      r.base.hash.substr(0, 16)));
}

}  // namespace

void add_pretrain_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* pre = root.add_subcommand(
      "pretrain",
      "Train the base model on the workspace's public split only (never on shard data) and "
      "store it as the frozen base; settings in [model] and [pretrain]. Reports test accuracy "
      "beside the majority-class and chance baselines. Runs alone or as 'mpirun -np R lethe "
      "pretrain': with pretrain.micro_batch below pretrain.batch_size the ranks share each step "
      "(the same base for any R)");
  commands.push_back({pre, run_pretrain, true, true});

  auto* imp = root.add_subcommand(
      "import-base",
      "Adopt an external checkpoint as the frozen base: a Hugging Face model directory (Llama, or "
      "BERT with its WordPiece tokenizer, e.g. sentence-transformers/all-MiniLM-L6-v2), a "
      ".safetensors file, or a sharded checkpoint's model.safetensors.index.json. Names follow "
      "Hugging Face; shape and name mismatches are errors listing each one");
  auto path = std::make_shared<std::string>();
  auto flag_path = std::make_shared<std::string>();
  auto* positional = imp->add_option("checkpoint", *path, "Model directory, checkpoint file or index.json");
  imp->add_option("--safetensors", *flag_path, "The same, as an option")->excludes(positional);
  commands.push_back({imp, [path, flag_path](Context& ctx) {
                        if (path->empty()) *path = *flag_path;
                        if (path->empty()) fail(ErrorKind::kUsage, "import-base: name the checkpoint (a model directory or file)");
                        auto w = open_workspace_for_write(ctx.options.workspace, ctx.command_line);
                        const ImportReport r = import_base(w.ws, ctx.config, *path, *ctx.log);
                        std::string human = fmt::format("Imported {} as the {} base {} (hash {})",
                                                        *path, r.base.spec.arch, r.base.file,
                                                        r.base.hash.substr(0, 16));
                        for (const auto& note : r.notes) human += "\n  " + note;
                        nlohmann::json j = base_json(r.base);
                        j["notes"] = r.notes;
                        ctx.out.result(j, human);
                      }});
}

}  // namespace lethe
