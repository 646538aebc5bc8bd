// lethe init: create a workspace.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/cli/context.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

void run_init(Context& ctx, bool force) {
  const fs::path& root = ctx.options.workspace;
  const bool replaced = is_workspace(root);
  CreateOptions options;
  options.force = force;
  options.command = ctx.command_line;
  create_workspace(root, ctx.config, options);
  Workspace ws = open_workspace(root);
  const WorkspaceInfo info = workspace_info(ws);
  ctx.out.result(
      {{"workspace", root.string()},
       {"workspace_id", info.workspace_id},
       {"schema_version", info.schema_version},
       {"replaced", replaced}},
      fmt::format("{} workspace {} (id {}, index schema v{})", replaced ? "Replaced" : "Created",
                  root.string(), info.workspace_id, info.schema_version));
}

}  // namespace

void add_init_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "init",
      "Create a workspace: lethe.toml (the resolved configuration), data/, checkpoints/, "
      "reports/ and the lineage index lineage.db. The configuration comes from the defaults, "
      "--config FILE and --set overrides.");
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("-f,--force", *force,
                "Replace an existing workspace (only a Lethe workspace, never another directory)");
  commands.push_back({cmd, [force](Context& ctx) { run_init(ctx, *force); },
                      /*reads_workspace_config=*/false});
}

}  // namespace lethe
