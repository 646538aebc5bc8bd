// What every subcommand receives: the global options, the resolved configuration, where to
// print, and the logger. Built once by run_cli() after parsing.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "src/common/fs.h"
#include "src/common/output.h"
#include "src/common/progress.h"
#include "src/config/config.h"
#include "src/distributed/comm.h"

namespace CLI {
class App;
}
namespace spdlog {
class logger;
}

namespace lethe {

struct GlobalOptions {
  fs::path workspace = "lethe-ws";
  std::optional<fs::path> config_file;
  std::vector<std::string> overrides;  // --set section.key=value
  std::optional<std::string> log_level;
  std::optional<int> threads;
  std::optional<std::string> device;
  bool json = false;
  std::optional<fs::path> result_file;
};

struct Context {
  GlobalOptions options;
  Config config;  // defaults < workspace lethe.toml < --config < --set < flags
  Output out;
  std::shared_ptr<spdlog::logger> log;
  std::string command_line;  // recorded in the workspace lock for other processes' errors
  Comm comm;                 // this process's rank; a single rank without mpirun

  // Several ranks share one terminal: they print progress lines, not redrawn bars.
  ProgressOptions progress() const {
    ProgressOptions p;
    p.style = progress_style_for(options.json, stderr);
    if (comm.size > 1 && p.style == ProgressStyle::kBar) p.style = ProgressStyle::kLines;
    return p;
  }
};

// A leaf subcommand: its CLI11 node and what to run when it is chosen.
struct Command {
  CLI::App* app;
  std::function<void(Context&)> run;
  // false for commands that build a new workspace (init): they must not read the old one's
  // lethe.toml as their base configuration.
  bool reads_workspace_config = true;
  // true for commands that run as one job over every rank of an mpirun (train, eval, predict,
  // retrain, simulate); the others refuse to run on more than one rank.
  bool distributed = false;
};

// One registration function per subcommand file.
void add_init_command(CLI::App& root, std::vector<Command>& commands);
void add_config_commands(CLI::App& root, std::vector<Command>& commands);
void add_quickstart_command(CLI::App& root, std::vector<Command>& commands);
void add_ingest_command(CLI::App& root, std::vector<Command>& commands);
void add_lineage_command(CLI::App& root, std::vector<Command>& commands);
void add_find_command(CLI::App& root, std::vector<Command>& commands);
void add_status_command(CLI::App& root, std::vector<Command>& commands);
void add_serve_command(CLI::App& root, std::vector<Command>& commands);
void add_recover_command(CLI::App& root, std::vector<Command>& commands);
void add_bench_commands(CLI::App& root, std::vector<Command>& commands);
void add_pretrain_commands(CLI::App& root, std::vector<Command>& commands);
void add_train_command(CLI::App& root, std::vector<Command>& commands);
void add_eval_command(CLI::App& root, std::vector<Command>& commands);
// The configuration a command runs with: defaults < `preset` (TOML a command brings, e.g.
// quickstart --text) < the workspace's lethe.toml (when `read_workspace`) < --config < --set <
// the dedicated flags.
Config resolve_config(const GlobalOptions& g, bool read_workspace, std::string_view preset = {});

void add_predict_command(CLI::App& root, std::vector<Command>& commands);
void add_export_command(CLI::App& root, std::vector<Command>& commands);
void add_forget_command(CLI::App& root, std::vector<Command>& commands);
void add_retrain_command(CLI::App& root, std::vector<Command>& commands);
void add_simulate_command(CLI::App& root, std::vector<Command>& commands);
void add_report_command(CLI::App& root, std::vector<Command>& commands);
void add_audit_commands(CLI::App& root, std::vector<Command>& commands);
void add_privacy_commands(CLI::App& root, std::vector<Command>& commands);
void add_cli_reference_command(CLI::App& root, std::vector<Command>& commands);

// Shared by `ingest` and `quickstart`.
struct IngestReport;
IngestReport run_ingest(Context& ctx, bool append);

// The --version report (also part of quickstart's summary).
nlohmann::json version_report();
std::string format_version_report(const nlohmann::json& report);

}  // namespace lethe
