// Where a trained mode stands after deletions, and what catching up would cost: per shard its
// sequences with their live prefix lengths and deleted records; what `lethe retrain` would
// train (from the longest surviving prefixes, on retained data) and its estimated cost beside
// what SISA and full retraining would process for the same deletions; and which rules of the
// retrain policy ([retrain]) call for retraining now. Read-only: `lethe status` shows it and
// `lethe retrain --if-needed` decides by it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shards/sequences.h"
#include "src/config/config.h"
#include "src/trainers/train_run.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct ShardState {
  int shard = 0;
  std::vector<Sequence> sequences;
  std::vector<int> live_prefix;  // per sequence: its leading live stages
  int best_prefix = 0;           // the longest (what serves)
  int64_t deleted = 0;           // deleted records of the shard
};

struct RetrainState {
  std::string mode;
  int slices = 0;                  // per shard (the longest prefix)
  std::vector<ShardState> shards;  // s3t and sisa; full has none
  int live_shards = 0, total_shards = 0;
  int64_t deleted_since_training = 0;  // since the mode last finished training
  RunPlan pending;                     // what a retrain would train
  std::optional<double> samples_per_second;  // measured on this mode's nodes
  double sisa_cost = 0;  // records SISA would process for the same deletions
  double full_cost = 0;  // records a full retraining would process
  std::vector<std::string> reasons;  // the policy rules that hold now (empty: not needed)
};

// ErrorKind::kNotFound when `config.train.mode` has never been trained; kConflict when the
// base saw a deleted record. `to_run`: `pending` will be run (lethe retrain), so it plans a DP
// node's schedule too (TrainOptions::plan_dp); a look (status, report) skips that search.
RetrainState assess_retraining(Workspace& ws, const Config& config, int64_t max_nodes = -1, bool to_run = false);

}  // namespace lethe
