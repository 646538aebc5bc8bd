// The serving view of an S3T model: per shard, the sequence whose prefix of live nodes is
// longest, and the ensemble of those shards (mean of their logits). Only live, hash-verified
// nodes ever serve; a shard with no live first stage drops out of the ensemble.
#pragma once

#include <spdlog/logger.h>

#include <vector>

#include "shards/lineage_index.h"
#include "shards/sequences.h"
#include "src/common/progress.h"
#include "src/trainers/base_model.h"

namespace lethe {

struct ShardView {
  int shard = 0;
  int sequence = -1;               // index into the shard's recorded sequences
  std::vector<ComponentRow> chain;  // the serving nodes, stage 1 first
};

struct View {
  int total_shards = 0;
  std::vector<ShardView> live;  // shards that can serve
};

View current_view(Workspace& ws);

struct EvalReport {
  int64_t records = 0;
  double accuracy = 0;                 // the ensemble's
  std::vector<double> shard_accuracy;  // per live shard, in View order
  View view;
};

// The ensemble's accuracy on the test split. ErrorKind::kNotFound when no shard can serve.
EvalReport evaluate_s3t(Workspace& ws, const Config& config, spdlog::logger& log);

}  // namespace lethe
