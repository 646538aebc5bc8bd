// lethe status: what the workspace holds (src/cli/status_report.h).
#include <CLI/CLI.hpp>

#include "src/cli/context.h"
#include "src/cli/status_report.h"

namespace lethe {

namespace {

void run_status(Context& ctx) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const StatusReport r = status_report(ws, ctx.config);
  ctx.out.result(r.json, r.text);
}

}  // namespace

void add_status_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "status",
      "Show the workspace: plan, record counts per split, live records per slice, the base, and "
      "per trained mode the live prefixes, deletions and the cost of pending retraining");
  commands.push_back({cmd, run_status});
}

}  // namespace lethe
