// lethe quickstart: the main job on built-in data, end to end, in one command. It runs every
// stage that this build implements, in order, on a workspace of its own, and reports what each
// stage produced.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/ingest/ingest.h"
#include "src/trainers/pretrain.h"
#include "src/trainers/s3t.h"
#include "src/trainers/s3t_view.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

constexpr const char* kOrigin = "quickstart";

// Quickstart recreates its workspace on every run, but only one that an earlier quickstart
// made: it must never destroy a workspace holding someone's real data.
void refuse_foreign_workspace(const fs::path& root) {
  if (!is_workspace(root)) return;
  Workspace ws = open_workspace(root);
  const WorkspaceInfo info = workspace_info(ws);
  if (info.origin != kOrigin) {
    fail(ErrorKind::kConflict,
         "'{}' holds a workspace created by '{}', not by quickstart; quickstart only replaces "
         "its own. Choose another directory with --workspace",
         root.string(), info.origin);
  }
}

void run_quickstart(Context& ctx) {
  using Clock = std::chrono::steady_clock;
  const fs::path& root = ctx.options.workspace;
  nlohmann::json steps = nlohmann::json::array();
  std::string human;

  const nlohmann::json version = version_report();
  human += format_version_report(version) + "\n\n";

  const auto t0 = Clock::now();
  refuse_foreign_workspace(root);
  CreateOptions options;
  options.force = true;
  options.command = ctx.command_line;
  options.origin = kOrigin;
  create_workspace(root, ctx.config, options);
  Workspace ws = open_workspace(root);
  const WorkspaceInfo info = workspace_info(ws);
  const double init_s = std::chrono::duration<double>(Clock::now() - t0).count();
  steps.push_back({{"step", "init"}, {"seconds", init_s}, {"workspace_id", info.workspace_id}});
  human += fmt::format("  init     {:>7.2f} s  workspace {} (id {})\n", init_s, root.string(),
                       info.workspace_id);

  const auto t1 = Clock::now();
  const IngestReport ingested = run_ingest(ctx, /*append=*/false);
  const double ingest_s = std::chrono::duration<double>(Clock::now() - t1).count();
  steps.push_back({{"step", "ingest"},
                   {"seconds", ingest_s},
                   {"source", ingested.source},
                   {"train", ingested.train},
                   {"public", ingested.public_records},
                   {"test", ingested.test},
                   {"slice_files", ingested.slices.size()},
                   {"imbalance", ingested.plan.imbalance}});
  human += fmt::format(
      "  ingest   {:>7.2f} s  {} records from {}: train {} in {} x {} slices (sizes {}..{}), "
      "public {}, test {}\n",
      ingest_s, ingested.records, ingested.source, ingested.train, ctx.config.plan.shards,
      ctx.config.plan.slices, ingested.plan.min_cell, ingested.plan.max_cell,
      ingested.public_records, ingested.test);

  const auto t2 = Clock::now();
  PretrainReport pre;
  {
    auto w = open_workspace_for_write(root, ctx.command_line);
    pre = pretrain(w.ws, ctx.config, ctx.progress(), *ctx.log);
  }
  const double pretrain_s = std::chrono::duration<double>(Clock::now() - t2).count();
  steps.push_back({{"step", "pretrain"},
                   {"seconds", pretrain_s},
                   {"arch", pre.base.spec.arch},
                   {"public_records", pre.records},
                   {"test_accuracy", pre.test.accuracy},
                   {"majority_accuracy", pre.test.majority_accuracy},
                   {"base_hash", pre.base.hash}});
  human += fmt::format(
      "  pretrain {:>7.2f} s  {} base on the public split: test accuracy {:.1f}% (majority "
      "class {:.1f}%)\n",
      pretrain_s, pre.base.spec.arch, 100 * pre.test.accuracy, 100 * pre.test.majority_accuracy);

  const auto t3 = Clock::now();
  S3tReport trained;
  {
    auto w = open_workspace_for_write(root, ctx.command_line);
    trained = train_s3t(w.ws, ctx.config, {}, ctx.progress(), *ctx.log);
  }
  const double train_s = std::chrono::duration<double>(Clock::now() - t3).count();
  steps.push_back({{"step", "train"},
                   {"seconds", train_s},
                   {"nodes", trained.nodes_trained},
                   {"samples", trained.samples}});
  human += fmt::format("  train    {:>7.2f} s  S3T: {} shards x {} sequences, {} nodes, {} samples\n",
                       train_s, trained.shards, ctx.config.train.sequences, trained.nodes_trained,
                       trained.samples);

  const auto t4 = Clock::now();
  const EvalReport evaluated = evaluate_s3t(ws, ctx.config, *ctx.log);
  const double eval_s = std::chrono::duration<double>(Clock::now() - t4).count();
  steps.push_back({{"step", "eval"},
                   {"seconds", eval_s},
                   {"accuracy", evaluated.accuracy},
                   {"live_shards", evaluated.view.live.size()}});
  human += fmt::format("  eval     {:>7.2f} s  ensemble of {} shards: test accuracy {:.1f}% "
                       "(base alone {:.1f}%)\n",
                       eval_s, evaluated.view.live.size(), 100 * evaluated.accuracy,
                       100 * pre.test.accuracy);

  ctx.out.result({{"workspace", root.string()}, {"steps", steps}, {"version", version}}, human);
}

}  // namespace

void add_quickstart_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "quickstart",
      "Run the main job on built-in data in a fresh workspace (default ./lethe-ws) and print a "
      "summary of every stage. Replaces only a workspace that an earlier quickstart created.");
  commands.push_back({cmd, run_quickstart, /*reads_workspace_config=*/false});
}

}  // namespace lethe
