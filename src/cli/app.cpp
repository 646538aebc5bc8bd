#include "src/cli/app.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "src/cli/cli_reference.h"
#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/common/log.h"
#include "src/common/platform.h"
#include "src/workspace/layout.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 success, 2 usage or configuration error, 3 bad input data, 4 integrity "
    "error, 5 not found, 6 conflict (workspace locked by another writer, or already exists), "
    "70 internal error, 75 timeout (ranks of an mpirun job waited too long for each other). See docs/cli.md.";

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_option("-w,--workspace", g.workspace, "Workspace directory")
      ->envname("LETHE_WORKSPACE")
      ->capture_default_str();
  app.add_option("-c,--config", g.config_file,
                 "TOML config file, applied over the workspace's lethe.toml");
  app.add_option("--set", g.overrides,
                 "Override one config key, e.g. --set runtime.threads=2 (repeatable)");
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error or off");
  app.add_option("--threads", g.threads, "LibTorch's CPU threads (runtime.threads); 0 = one per core");
  app.add_option("--device", g.device, "Where to compute (runtime.device): auto, cpu or cuda");
  app.add_flag("--json", g.json,
               "Machine-readable output: one JSON object per line on stdout; logs, progress "
               "and errors as JSON lines on stderr");
  app.add_option("--result-file", g.result_file,
                 "Also write the command's JSON result to this file (atomically): for jobs whose "
                 "terminal output is for people");
}


void report_error(const Context& ctx, ErrorKind kind, const std::string& message) {
  const std::string rank = ctx.comm.size > 1 ? fmt::format(" (rank {})", ctx.comm.rank) : "";
  if (ctx.options.json) {
    const nlohmann::json j = {{"event", "error"},
                              {"kind", kind_name(kind)},
                              {"exit_code", exit_code(kind)},
                              {"message", message + rank}};
    std::fprintf(stderr, "%s\n",
                 j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fprintf(stderr, "lethe: error: %s%s\n", message.c_str(), rank.c_str());
  }
}

std::string join_argv(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// With several ranks on one machine, each gets an equal share of the cores by default.
int default_threads(const Comm& comm) {
  if (comm.size == 1) return 0;
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int per_node = local ? std::max(1, std::atoi(local)) : comm.size;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / per_node);
}

// An error ends the command; on several ranks it ends the whole job, so that no rank waits
// forever in a collective for one that has failed.
int finish_with_error(const Context& ctx, ErrorKind kind, const std::string& message) {
  report_error(ctx, kind, message);
  if (ctx.comm.size > 1) {
    std::fflush(stderr);
    abort_job(ctx.comm, exit_code(kind));
  }
  return exit_code(kind);
}

// "train, eval, predict, retrain and simulate": the commands that run over several ranks.
std::string distributed_commands(const std::vector<Command>& commands) {
  std::vector<std::string> names;
  for (const Command& c : commands) {
    if (c.distributed) names.push_back(command_path(*c.app));
  }
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    s += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return s;
}

}  // namespace

// defaults < preset < workspace lethe.toml < --config < --set < --threads/--device/--log-level.
Config resolve_config(const GlobalOptions& g, bool read_workspace, std::string_view preset) {
  Config config;
  if (!preset.empty()) load_config_text(preset, "the command's preset", config);
  if (read_workspace && is_workspace(g.workspace)) {
    load_config_file(config_file(g.workspace), config);
  }
  if (g.config_file) load_config_file(*g.config_file, config);
  for (const std::string& assignment : g.overrides) apply_config_override(assignment, config);
  // Dedicated flags go through the same validation as config keys.
  if (g.threads) apply_config_override("runtime.threads=" + std::to_string(*g.threads), config);
  if (g.device) apply_config_override("runtime.device=" + *g.device, config);
  if (g.log_level) apply_config_override("runtime.log_level=" + *g.log_level, config);
  return config;
}

int run_cli(int argc, char** argv) {
  pin_cpu_numerics();
  MpiSession mpi;
  Context ctx;
  ctx.comm = mpi.comm();
  ctx.command_line = join_argv(argc, argv);
  CLI::App app{
      "Lethe: exact machine unlearning by sharded, sliced, sequence-aware training (S3T).\n"
      "Data is split into shards and slices; every trained component records the slices it "
      "saw, so a deletion switches off exactly the components that saw the deleted records.",
      "lethe"};
  app.fallthrough();  // global options may also follow the subcommand
  app.footer(kExitCodes);
  add_global_options(app, ctx.options);
  bool show_version = false;
  app.add_flag("-V,--version", show_version,
               "Print version, git commit, LibTorch, BLAS, MPI and CUDA build details");

  std::vector<Command> commands;
  add_init_command(app, commands);
  add_config_commands(app, commands);
  add_ingest_command(app, commands);
  add_status_command(app, commands);
  add_lineage_command(app, commands);
  add_find_command(app, commands);
  add_recover_command(app, commands);
  add_pretrain_commands(app, commands);
  add_train_command(app, commands);
  add_eval_command(app, commands);
  add_predict_command(app, commands);
  add_serve_command(app, commands);
  add_export_command(app, commands);
  add_forget_command(app, commands);
  add_retrain_command(app, commands);
  add_simulate_command(app, commands);
  add_report_command(app, commands);
  add_audit_commands(app, commands);
  add_privacy_commands(app, commands);
  add_quickstart_command(app, commands);
  add_bench_commands(app, commands);
  add_cli_reference_command(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_code(ErrorKind::kUsage);
  }

  ctx.out.json = ctx.options.json;
  ctx.out.result_file = ctx.options.result_file;
  try {
    // A logger exists before the config is read, so config errors can be reported.
    ctx.log = make_logger(spdlog::level::info, ctx.options.json, ctx.comm.size > 1 ? ctx.comm.rank : -1);
    if (show_version) {
      const nlohmann::json report = version_report();
      ctx.out.result(report, format_version_report(report));
      return 0;
    }
    const Command* chosen = nullptr;
    for (const Command& c : commands) {
      if (c.app->parsed()) chosen = &c;
    }
    if (!chosen) {
      std::fputs(app.help().c_str(), stderr);
      return exit_code(ErrorKind::kUsage);
    }
    if (ctx.comm.size > 1 && !chosen->distributed) {
      fail(ErrorKind::kUsage, "'lethe {}' runs as a single process; of the commands, only {} run under mpirun",
           command_path(*chosen->app), distributed_commands(commands));
    }
    ctx.config = resolve_config(ctx.options, chosen->reads_workspace_config);
    if (ctx.comm.size > 1 && !ctx.options.threads && ctx.config.runtime.threads == 0) {
      ctx.config.runtime.threads = default_threads(ctx.comm);
    }
    ctx.log->set_level(static_cast<spdlog::level::level_enum>(
        parse_log_level(ctx.config.runtime.log_level, "runtime.log_level")));
    ctx.log->debug("using {} LibTorch threads", set_threads(static_cast<int>(ctx.config.runtime.threads)));
    chosen->run(ctx);
    return 0;
  } catch (const Error& e) {
    return finish_with_error(ctx, e.kind(), e.what());
  } catch (const std::exception& e) {
    return finish_with_error(ctx, ErrorKind::kInternal, std::string("unexpected failure: ") + e.what());
  } catch (...) {
    return finish_with_error(ctx, ErrorKind::kInternal, "unexpected failure of unknown type");
  }
}

}  // namespace lethe
