// lethe retrain: restore every shard's sequences after deletions, training only the nodes that
// deletions switched off, from the longest surviving prefix, on retained data. The recorded
// sequences are restored (not selected anew), and each node's seed comes from its identity
// and its slices' hashes, so a retrained node is the node a first training on the retained
// data would give. A job over ranks like train. With --if-needed it retrains only when a rule
// of [retrain] holds (for a nightly job).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "src/cli/context.h"
#include "src/cli/train_job.h"
#include "src/common/error.h"
#include "src/unlearning/retrain_state.h"

namespace lethe {

namespace {

struct RetrainFlags {
  std::optional<std::string> mode;
  bool if_needed = false;
  int64_t max_nodes = -1;
  std::optional<std::string> policy;
};

void run_retrain(Context& ctx, const RetrainFlags& flags) {
  JobWorkspace job;
  open_job_workspace(ctx, job);
  if (flags.mode) apply_config_override("train.mode=" + *flags.mode, ctx.config);
  if (flags.policy) apply_config_override("retrain.policy=" + *flags.policy, ctx.config);
  // Every rank reads the same committed state, so all take the same decision.
  const RetrainState st = assess_retraining(job.ws(), ctx.config, flags.max_nodes, /*to_run=*/true);
  const int64_t missing = st.pending.nodes_to_train + st.pending.nodes_left;
  std::string why_not;
  if (missing == 0) {
    why_not = fmt::format("every {} node is live and trained on the current data", st.mode);
  } else if (ctx.config.retrain.policy == "service" && st.pending.nodes_to_train == 0) {
    why_not = fmt::format("every shard has a whole {} sequence; {} node{} of other sequences stay off under "
                          "retrain.policy = {} (policy all retrains them)",
                          st.mode, missing, missing == 1 ? "" : "s", ctx.config.retrain.policy);
  } else if (flags.if_needed && st.reasons.empty()) {
    why_not = fmt::format("{} {} node{} switched off, but no rule of [retrain] holds ({} deleted since "
                          "the last complete training; {} of {} shards serve)",
                          missing, st.mode, missing == 1 ? " is" : "s are", st.deleted_since_training,
                          st.live_shards, st.total_shards);
  }
  if (!why_not.empty()) {
    if (ctx.comm.is_root()) {
      ctx.out.result({{"mode", st.mode}, {"retrained", false}, {"nodes_missing", missing}, {"reason", why_not}},
                     "Nothing to do: " + why_not);
    }
    return;
  }
  for (const std::string& r : st.reasons) ctx.log->info("retraining because {}", r);

  TrainOptions options;
  options.command = "retrain";
  options.restore_sequences = true;
  options.max_nodes = flags.max_nodes;
  options.policy = ctx.config.retrain.policy;
  // The assessment planned exactly this run (same options, nothing committed since): reuse it.
  const TrainReport r = train_planned(job.ws(), ctx.comm, ctx.config, options, st.pending, ctx.progress(), *ctx.log);
  if (!ctx.comm.is_root()) return;
  nlohmann::json j = train_report_json(r);
  j["retrained"] = true;
  j["reasons"] = st.reasons;
  ctx.out.result(j, train_report_text(r, "Retrained"));
}

}  // namespace

void add_retrain_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "retrain",
      "After deletions: train again the nodes that 'lethe forget' switched off, from each "
      "sequence's longest surviving prefix, on retained data only, restoring the recorded "
      "sequences. The result equals a first training on the retained data. Runs alone or as "
      "'mpirun -np R lethe retrain'. Policy for --if-needed: [retrain]");
  auto f = std::make_shared<RetrainFlags>();
  cmd->add_option("--mode", f->mode, "s3t, sisa or full (default: train.mode)");
  cmd->add_flag("--if-needed", f->if_needed,
                "Retrain only when a rule of [retrain] holds (deletions since the last complete "
                "training, shortest live prefix, live shards); otherwise exit 0 with 'nothing to do'");
  cmd->add_option("--max-nodes", f->max_nodes,
                  "Train at most N nodes now, first stages first (the rest stay for the next run)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--policy", f->policy,
                  "all (every switched-off node) or service (per shard, the one sequence cheapest to make whole "
                  "again; the rest later): retrain.policy");
  commands.push_back({cmd, [f](Context& ctx) { run_retrain(ctx, *f); }, true, true});
}

}  // namespace lethe
