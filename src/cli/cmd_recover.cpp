// lethe recover: finish or undo whatever an interrupted writer left behind. Every writing
// command does this on start; this command does only this.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/cli/context.h"
#include "src/workspace/workspace.h"

namespace lethe {

void add_recover_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "recover",
      "Bring a workspace back to its last committed state after a crash: remove temporary and "
      "unreferenced files (every writing command also does this when it starts)");
  commands.push_back({cmd, [](Context& ctx) {
                        auto w = open_workspace_for_write(ctx.options.workspace, ctx.command_line);
                        ctx.out.result({{"workspace", w.ws.root.string()},
                                        {"removed_files", w.recovered_files}},
                                       fmt::format("Recovered {}: removed {} leftover files",
                                                   w.ws.root.string(), w.recovered_files));
                      }});
}

}  // namespace lethe
