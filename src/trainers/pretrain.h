// `lethe pretrain`: trains the base model on the workspace's public split only. Public
// records never enter a shard, so the base depends on no record that a deletion could reach
// through the shards; its lineage edge to the public slice is recorded all the same.
#pragma once

#include <spdlog/logger.h>

#include "src/common/progress.h"
#include "src/distributed/comm.h"
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

// Alone, or on every rank of `comm` (rank 0's `ws` open for writing): with pretrain.micro_batch
// below pretrain.batch_size every rank computes a share of each step's micro-batches and their
// gradients are summed in micro-batch order (src/trainers/data_parallel.h), so the base has the
// same bytes for any rank count; without, rank 0 trains alone. Rank 0 evaluates, stores the
// base and returns the report; the other ranks return an empty one.
PretrainReport pretrain(Workspace& ws, const Comm& comm, const Config& config, const ProgressOptions& progress,
                        spdlog::logger& log);

}  // namespace lethe
