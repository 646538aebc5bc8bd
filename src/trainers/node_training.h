// Training one node of a training plan: build its model (the base, its ancestors' adapters,
// a fresh group for itself), gather its data (the live records of its slices), fit its group
// and head, and package the result as a node checkpoint. Everything a node draws (adapter
// init, batch order, dropout) comes from its seed, which depends only on its identity and
// its slices' hashes: the same node trains to the same bytes on any rank, in any run.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "checkpoints/node_checkpoint.h"
#include "src/common/device.h"
#include "src/common/progress.h"
#include "src/distributed/rank_group.h"
#include "src/trainers/base_model.h"
#include "src/trainers/training_plan.h"

namespace lethe {

struct DpSchedule;  // src/privacy/dp_schedule.h

// The train slices a unit reads: one shard's (by slice index), or every shard's for `full`.
struct SliceData {
  std::vector<SliceRow> slices;
  std::vector<RecordBatch> batches;            // verified against the index's hashes
  std::vector<std::vector<uint32_t>> live;     // live rows of each
};

// The train slices of a unit out of `all` (list_slices): one shard's in slice order, or for
// `shard` -1 every train slice in (shard, slice) order. ErrorKind::kIntegrity for a gap.
std::vector<SliceRow> train_slice_rows(const std::vector<SliceRow>& all, int shard, int shards, int slices_per_shard);

// Those slices with their verified contents and live rows.
SliceData load_train_slices(Workspace& ws, int shard, int shards, int slices_per_shard);

// What a node would be trained on: its slices and their current hashes, in order.
std::vector<SeenSlice> inputs_of(const NodeSpec& node, const std::vector<SliceRow>& unit_slices);

// The hash of everything besides data and ancestors that determines a node's bytes.
std::string training_config_hash(const Config& config, const std::string& base_hash);

// A node's ancestor as stored: its checkpoint and the group it holds.
struct AncestorRef {
  std::string file;
  std::string hash;
  int group = 0;
};

struct TrainedNode {
  NodeCheckpoint checkpoint;
  // Mean training loss over the first and the last quarter of the optimiser steps, for train's
  // report (not added to the checkpoint, whose bytes must not change with what is reported).
  double start_loss = 0, end_loss = 0;
  int64_t samples = 0;  // records processed, all epochs
  double seconds = 0;
};

struct NodeTrainingContext {
  Workspace* ws = nullptr;
  const BaseModel* base = nullptr;
  const Config* config = nullptr;
  int groups = 1;
  std::string config_hash;
  // What a DP node trains under, planned once for its run (RunPlan::dp_schedule); null when the
  // run trains no DP node.
  const DpSchedule* dp_schedule = nullptr;
  // Where it trains; `base`'s weights are already there (load_base). The checkpoint is
  // written from CPU tensors whatever the device, and records it (NodeMeta::trained_with).
  ComputeDevice device;
  ProgressOptions progress;
  // The ranks that train the node together (data_parallel.h); null: this rank alone. Every
  // member returns the same node from train_node.
  RankGroup* group = nullptr;
  // Called after every optimiser step: rank 0 commits other ranks' nodes here, so that they
  // reach the index while it trains its own.
  std::function<void()> between_steps;
};

// Trains `node` on `data` from its ancestors (parent first). ErrorKind::kInput when its
// slices hold no live record.
TrainedNode train_node(const NodeTrainingContext& ctx, const NodeSpec& node,
                       const std::vector<AncestorRef>& ancestors, const std::string& parent_hash,
                       const SliceData& data, const std::string& label);

// The learning rate at optimiser step `step` of `total` (train.lr_schedule after a linear
// warmup over train.warmup_ratio of the steps).
double scheduled_lr(const TrainConfig& train, int64_t step, int64_t total);

// Copies `node`'s adapters into group `group` of `set` (every adapter of that group must be
// in the checkpoint); its head is node_head().
void load_node_group(LoraSet& set, int group, const NodeCheckpoint& node);
const at::Tensor& node_head(const NodeCheckpoint& node);

}  // namespace lethe
