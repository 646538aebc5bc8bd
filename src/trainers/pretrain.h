// `lethe pretrain`: trains the base model on the workspace's public split only. Public
// records never enter a shard, so the base depends on no record that a deletion could reach
// through the shards; its lineage edge to the public slice is recorded all the same.
#pragma once

#include <spdlog/logger.h>

#include "src/common/progress.h"
#include "src/trainers/base_model.h"

namespace lethe {

struct Evaluation {
  int64_t records = 0;
  double accuracy = 0;
  double majority_accuracy = 0;  // always predicting the public split's most frequent label
  double chance = 0;             // 1 / number of labels
  double perplexity = 0;         // llama: of the next-token predictions; 0 otherwise
};

struct PretrainReport {
  int64_t records = 0;  // public records trained on
  int64_t steps = 0;
  double final_loss = 0;       // mean training loss of the last epoch
  Evaluation test;             // on the test split
  double seconds = 0;
  BaseModel base;
};

PretrainReport pretrain(Workspace& ws, const Config& config, const ProgressOptions& progress,
                        spdlog::logger& log);

}  // namespace lethe
