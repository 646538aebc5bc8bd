// lethe train: the training job of a mode (s3t, or the sisa and full baselines) over every
// rank of an mpirun (or alone).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "src/cli/context.h"
#include "src/cli/train_job.h"
#include "src/common/error.h"
#include "src/index/workspace_plan.h"
#include "src/trainers/train_run.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

struct TrainFlags {
  bool resume = false;  // the default behaviour, named for scripts
  bool from_scratch = false;
  std::optional<std::string> mode;
  std::optional<int64_t> shards, slices, budget;
  bool dry_run = false;
  std::optional<int> ranks;  // --dry-run: the rank count to schedule for
};

// --mode/--budget override the config like --set does; --shards/--slices must name the
// workspace's plan, which ingest fixed (the slice files are cut to it).
void apply_train_flags(Context& ctx, const TrainFlags& f, Workspace& ws) {
  if (f.mode) apply_config_override("train.mode=" + *f.mode, ctx.config);
  if (f.budget) apply_config_override("train.sequences=" + std::to_string(*f.budget), ctx.config);
  const WorkspacePlan plan = read_plan(ws.db);
  const int64_t shards = plan.shards, slices = plan.slices;
  if ((f.shards && *f.shards != shards) || (f.slices && *f.slices != slices)) {
    fail(ErrorKind::kUsage,
         "workspace '{}' was planned into {} shards x {} slices when its data was ingested; "
         "--shards {} --slices {} needs a new plan: ingest into a new workspace with "
         "'lethe ingest --shards N --slices L'",
         ws.root.string(), shards, slices, f.shards.value_or(shards), f.slices.value_or(slices));
  }
}

// --dry-run: what a run over R ranks would train, and how the planner would spread it; the
// workspace is only read.
void run_dry_run(Context& ctx, const TrainFlags& flags) {
  if (!ctx.comm.is_root()) return;
  Workspace ws = open_workspace(ctx.options.workspace);
  apply_train_flags(ctx, flags, ws);
  TrainOptions options;
  options.from_scratch = flags.from_scratch;
  options.plan_dp = false;  // a DP node's noise search is not needed to schedule it
  const RunPlan run = plan_run(ws, ctx.config, options);
  const int ranks = flags.ranks.value_or(ctx.comm.size);
  const RunSchedule s = schedule_run(run, ranks);
  nlohmann::json units = nlohmann::json::array();
  std::string table;
  for (size_t u = 0; u < run.plan.units.size(); ++u) {
    const WorkUnit& unit = run.plan.units[u];
    const NodeSpec& first = run.plan.nodes[static_cast<size_t>(unit.nodes.front())];
    int to_train = 0;
    for (int k : unit.nodes) to_train += run.to_train[static_cast<size_t>(k)];
    const std::vector<int> ranks = unit_ranks(s, u);
    units.push_back({{"unit", u}, {"shard", first.shard}, {"first_stage", first.name}, {"nodes", unit.nodes.size()},
                     {"nodes_to_train", to_train}, {"cost", s.unit_cost[u]}, {"rank", s.owner[u]}, {"ranks", ranks}});
    const std::string where = ranks.size() == 1 ? std::to_string(ranks.front())
                                                : fmt::format("{}-{}", ranks.front(), ranks.back());
    table += fmt::format("\n  {:>5} {:>6} {:>12} {:>6} {:>9} {:>12.0f} {:>7}", u, first.shard, first.name, unit.nodes.size(),
                         to_train, s.unit_cost[u], where);
  }
  const double efficiency = s.makespan > 0 ? s.lower_bound / s.makespan : 1.0;
  const nlohmann::json j = {{"dry_run", true},          {"mode", run.plan.mode},
                            {"ranks", s.ranks},         {"nodes_to_train", run.nodes_to_train},
                            {"nodes_kept", run.nodes_kept}, {"units", units},
                            {"rank_load", s.rank_load}, {"total_cost", s.total},
                            {"makespan", s.makespan},   {"lower_bound", s.lower_bound},
                            {"efficiency", efficiency}, {"idle_ranks", s.idle_ranks},
                            {"max_ranks_per_unit", run.max_group}};
  ctx.out.result(j, fmt::format("Dry run: {} over {} rank{} trains {} nodes ({} kept) in {} work units; nothing was "
                                "trained or written.\n"
                                "  cost (records x epochs): {:.0f} in all; the busiest rank {:.0f} (the makespan), "
                                "total / ranks {:.0f} (its lower bound): {:.0f}% of the ideal; {} of {} ranks idle.\n"
                                "  {:>5} {:>6} {:>12} {:>6} {:>9} {:>12} {:>7}{}",
                                run.plan.mode, s.ranks, s.ranks == 1 ? "" : "s", run.nodes_to_train, run.nodes_kept, run.plan.units.size(), s.total,
                                s.makespan, s.lower_bound, 100 * efficiency, s.idle_ranks, s.ranks, "unit", "shard",
                                "first stage", "nodes", "to train", "cost", "ranks", table));
}

void run_train(Context& ctx, const TrainFlags& flags) {
  if (flags.dry_run) return run_dry_run(ctx, flags);
  if (flags.ranks) fail(ErrorKind::kUsage, "--ranks is for --dry-run: a real run trains over the ranks mpirun gives it");
  JobWorkspace job;
  open_job_workspace(ctx, job);
  apply_train_flags(ctx, flags, job.ws());
  TrainOptions options;
  options.from_scratch = flags.from_scratch;
  const TrainReport r = train_model(job.ws(), ctx.comm, ctx.config, options, ctx.progress(), *ctx.log);
  if (!ctx.comm.is_root()) return;
  ctx.out.result(train_report_json(r), train_report_text(r, "Trained"));
}

}  // namespace

void add_train_command(CLI::App& root, std::vector<Command>& commands) {
  auto* train = root.add_subcommand(
      "train",
      "Train the mode in train.mode: s3t (per shard, B slice sequences; stage i of a sequence "
      "trains LoRA group i and a head on its first i slices; shared prefixes train once), or "
      "the baselines sisa and full. Runs alone or as 'mpirun -np R lethe train' (shards spread "
      "over ranks; the same checkpoints for any R). Nodes already trained on the same data are "
      "kept, so an interrupted run resumes. Settings: [train], [lora]");
  auto tf = std::make_shared<TrainFlags>();
  train->add_option("--mode", tf->mode, "s3t, sisa or full (train.mode)");
  train->add_flag("--resume", tf->resume,
                  "Keep every verified node already trained on the same inputs and train the rest. "
                  "This is always what train does (training is idempotent); the flag names it");
  train->add_flag("--from-scratch", tf->from_scratch,
                  "Train every node again, ignoring the live ones (they are replaced); the result is "
                  "what a first training on the current data gives")
      ->excludes(train->get_option("--resume"));
  train->add_option("--budget", tf->budget, "Sequences per shard, B (train.sequences)");
  train->add_option("--shards", tf->shards, "Shards m: must match the plan made at ingest");
  train->add_option("--slices", tf->slices, "Slices per shard L: must match the plan made at ingest");
  train->add_flag("--dry-run", tf->dry_run,
                  "Train nothing: print what a run would train and how it would spread over the ranks (work "
                  "units, their ranks and costs, the busiest rank's load against the lower bound total / ranks, "
                  "idle ranks), to size an mpirun or Slurm job; the workspace is only read");
  train->add_option("--ranks", tf->ranks, "With --dry-run: the rank count to schedule for (default: this job's)")
      ->check(CLI::Range(1, 1 << 20));
  commands.push_back({train, [tf](Context& ctx) { run_train(ctx, *tf); }, true, true});
}

}  // namespace lethe
