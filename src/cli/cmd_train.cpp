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

namespace lethe {

namespace {

struct TrainFlags {
  bool resume = false;  // the default behaviour, named for scripts
  bool from_scratch = false;
  std::optional<std::string> mode;
  std::optional<int64_t> shards, slices, budget;
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

void run_train(Context& ctx, const TrainFlags& flags) {
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
  commands.push_back({train, [tf](Context& ctx) { run_train(ctx, *tf); }, true, true});
}

}  // namespace lethe
