// S3T: sequence-aware sharded sliced training. Per shard, B sequences (orders of its L
// slices) form a prefix tree; each node (shard, prefix) trains LoRA group i = len(prefix)
// (counted from the top, 0-based i-1) and a head on the union of the prefix's slices, with
// the ancestors' groups frozen and deeper groups off. Nodes are checkpointed one file each and
// recorded in the index with the exact slices (and hashes) they have seen.
#pragma once

#include <spdlog/logger.h>

#include <map>
#include <string>
#include <vector>

#include "checkpoints/node_checkpoint.h"
#include "shards/sequences.h"
#include "src/common/progress.h"
#include "src/trainers/base_model.h"

namespace lethe {

struct S3tReport {
  int shards = 0;
  int nodes_trained = 0;
  int nodes_reused = 0;           // already trained on the same data (resume)
  int stages_without_sharing = 0;  // B x L x shards
  int64_t samples = 0;            // records processed, all epochs
  double seconds = 0;
  std::map<int, std::vector<Sequence>> sequences;  // per shard
};

// Trains every node of every shard in `shards` (all when empty) that is not already live
// with the same inputs. The caller holds the workspace's write lock.
S3tReport train_s3t(Workspace& ws, const Config& config, const std::vector<int>& shards,
                    const ProgressOptions& progress, spdlog::logger& log);

// A node checkpoint's adapters, copied into group `group` of `set` (every adapter of that
// group must be in the checkpoint), and its classification head.
void load_node_group(LoraSet& set, int group, const NodeCheckpoint& node);
const at::Tensor& node_head(const NodeCheckpoint& node);

// The sequences recorded at training time, per shard (ErrorKind::kNotFound before training).
std::map<int, std::vector<Sequence>> recorded_sequences(Workspace& ws);

}  // namespace lethe
