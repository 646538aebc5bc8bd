// lethe cli-reference: the reference of every command and option (docs/cli-reference.md).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/cli_reference.h"
#include "src/cli/context.h"

namespace lethe {

void add_cli_reference_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "cli-reference",
      "Print the reference of every command and option as Markdown (docs/cli-reference.md); with "
      "--json, the same as data");
  // run_cli keeps `root` and `commands` alive until the chosen command has run.
  const CLI::App* app = &root;
  const std::vector<Command>* all = &commands;
  commands.push_back({cmd,
                      [app, all](Context& ctx) {
                        const CliReference reference = describe_cli(*app, *all);
                        const std::string md = cli_reference_markdown(reference);
                        nlohmann::json j = cli_reference_json(reference);
                        j["markdown"] = md;
                        ctx.out.result(j, md);
                      },
                      /*reads_workspace_config=*/false});
}

}  // namespace lethe
