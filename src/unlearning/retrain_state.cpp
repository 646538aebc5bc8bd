#include "src/unlearning/retrain_state.h"

#include <fmt/format.h>

#include <map>

#include "src/index/components.h"
#include "src/index/lineage_index.h"
#include "src/index/record_sets.h"
#include "src/index/training_history.h"
#include "src/index/workspace_plan.h"
#include "src/serving/serving_view.h"

namespace lethe {

namespace {

std::map<int, int64_t> deleted_per_shard(Workspace& ws) {
  return deleted_train_records_per_shard(ws.db);
}

// Whether a slice changed since `mode` last trained on it: the newest lineage edge of a
// component of that mode names another hash (SISA, trained alongside, would retrain from it).
bool changed_since_trained(Workspace& ws, const std::string& mode, const SliceRow& s) {
  const auto seen = newest_edge_hash(ws.db, s.slice_id, mode);
  return seen && *seen != s.hash;
}

// Per shard, SISA retrains from the checkpoint before its first changed slice (in slice
// order), each later checkpoint on all slices up to it.
double sisa_cost_of(Workspace& ws, const std::string& mode, int shards, int slices, int64_t epochs) {
  const std::vector<SliceRow> all = list_slices(ws.db);
  double cost = 0;
  for (int shard = 0; shard < shards; ++shard) {
    std::vector<SliceRow> rows;
    for (const SliceRow& s : all) {
      if (s.kind == "train" && s.shard == shard) rows.push_back(s);
    }
    std::sort(rows.begin(), rows.end(), [](const SliceRow& a, const SliceRow& b) { return a.slice < b.slice; });
    double cumulative = 0;
    bool retraining = false;
    for (const SliceRow& s : rows) {
      cumulative += static_cast<double>(s.live);
      retraining = retraining || changed_since_trained(ws, mode, s);
      if (retraining) cost += cumulative * static_cast<double>(epochs);
    }
  }
  return cost;
}

}  // namespace

RetrainState assess_retraining(Workspace& ws, const Config& config, int64_t max_nodes, bool to_run) {
  RetrainState st;
  st.mode = config.train.mode;
  TrainOptions options;
  options.restore_sequences = true;
  options.max_nodes = max_nodes;
  options.policy = config.retrain.policy;
  options.plan_dp = to_run;
  st.pending = plan_run(ws, config, options);
  const WorkspacePlan shape = read_plan(ws.db);
  const int shards = shape.shards;
  st.slices = shape.slices;

  // One application of the serving rule: each sequence's live prefix, and the shards that serve.
  const IndexLiveView now = live_in_index(ws, st.mode, config.privacy.after_forget == "dp_base");
  const auto deleted = deleted_per_shard(ws);
  for (const ShardLive& live : now.rule.shards) {
    if (!mode_traits(st.mode).sharded) continue;  // full and dp2: one model, no shard to show
    ShardState s;
    s.shard = live.shard;
    s.sequences = now.rule.sequences.at(live.shard);
    s.live_prefix = live.live_prefix;
    s.best_prefix = live.serving_length;
    const auto it = deleted.find(live.shard);
    s.deleted = it == deleted.end() ? 0 : it->second;
    st.shards.push_back(std::move(s));
  }
  st.live_shards = now.rule.serving_shards();
  st.total_shards = now.total_shards;

  const auto last = last_complete_run(ws.db, st.mode);
  st.deleted_since_training = records_deleted_after(ws.db, last ? last->requests_seq : 0);
  st.samples_per_second = measured_samples_per_second(ws.db, st.mode);
  st.sisa_cost = sisa_cost_of(ws, st.mode, shards, st.slices, config.train.epochs_per_stage);
  double all_live = 0;
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == "train") all_live += static_cast<double>(s.live);
  }
  st.full_cost = st.deleted_since_training > 0 ? all_live * static_cast<double>(config.train.epochs_per_stage) : 0;

  // The policy. Nothing to train means nothing is needed, whatever the rules say.
  if (st.pending.nodes_to_train + st.pending.nodes_left == 0) return st;
  const RetrainConfig& p = config.retrain;
  if (p.after_deletions > 0 && st.deleted_since_training >= p.after_deletions) {
    st.reasons.push_back(fmt::format("{} record{} deleted since the last complete training (retrain.after_deletions = {})",
                                     st.deleted_since_training, st.deleted_since_training == 1 ? "" : "s", p.after_deletions));
  }
  if (p.min_live_shards > 0 && st.live_shards < p.min_live_shards) {
    st.reasons.push_back(fmt::format("{} of {} shards serve (retrain.min_live_shards = {})", st.live_shards,
                                     st.total_shards, p.min_live_shards));
  }
  for (const ShardState& s : st.shards) {
    if (p.min_prefix > 0 && s.best_prefix < p.min_prefix) {
      st.reasons.push_back(fmt::format("shard {} serves a prefix of {} slices (retrain.min_prefix = {})", s.shard,
                                       s.best_prefix, p.min_prefix));
    }
  }
  return st;
}

}  // namespace lethe
