// What one `lethe train` has to train, as a list of nodes grouped into independent units of
// work, for each training mode:
//   s3t   per shard, the prefix tree of its B sequences; node (shard, prefix) trains LoRA group
//         len(prefix)-1 on the prefix's slices, its ancestors' groups frozen. A unit is the
//         subtree under one first stage (units share no node, so ranks never wait on each other).
//   sisa  per shard, one model trained slice by slice (SISA, Bourtoule et al. 2021): node
//         (shard, 0..i) continues its parent's single LoRA group on slices 0..i. A unit is a shard.
//   full  one model, one LoRA group over all layers, trained on every train slice: one unit.
//   dp2   DP2Unlearning: node "dp_base" trains one LoRA group and the head with DP-SGD on every
//         train slice; node "deployed" continues them without noise on the same slices. One
//         unit; the deployed node's parent is the DP base.
// Slices are indices into the unit's data: the shard's slices, or for `full` every train
// slice in (shard, slice) order, slice index = shard * L + slice.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/index/lineage_index.h"
#include "shards/sequences.h"
#include "src/config/config.h"

namespace lethe {

struct NodeSpec {
  std::string kind;  // the mode: s3t | sisa | full | dp2 (also the component kind in the index)
  int shard = -1;    // -1 for full and dp2
  Sequence prefix;   // the slices it sees, in training order
  std::string name;  // its name in the index: "2.0.1", or "all" for full
  int parent = -1;   // index into TrainingPlan::nodes, -1 for a first stage
  int group = 0;     // the LoRA group it trains (and stores)
  double cost = 0;   // records it processes, all epochs (live records of its slices x epochs)
  bool dp = false;   // trained with DP-SGD ([privacy]): dp2's "dp_base"
};

struct WorkUnit {
  std::vector<int> nodes;  // parents before children
  double cost = 0;         // its nodes' costs (the estimate ranks are balanced by)
};

struct TrainingPlan {
  std::string mode;
  int groups = 1;  // LoRA groups of the model: L for s3t, 1 otherwise
  std::vector<NodeSpec> nodes;
  std::vector<WorkUnit> units;
  std::map<int, std::vector<Sequence>> sequences;  // per shard (s3t, sisa)
  int stages_without_sharing = 0;  // s3t: B x L per shard; nodes otherwise
};

// Where an s3t plan's sequences come from.
struct PlanSequences {
  // Per shard, the sequences to restore (lethe retrain: the ones trained before, whatever the
  // config says now). Empty = select them.
  std::map<int, std::vector<Sequence>> recorded;
  // Per shard, per slice deletion probabilities for bms (from owner priors); empty =
  // train.deletion_probabilities for every shard.
  std::vector<std::vector<double>> shard_probabilities;
};

// `slices` are the workspace's train slices (from list_slices); their live counts give costs.
// ErrorKind::kUsage for an unknown mode (src/config/modes.h) or a selection the plan cannot satisfy.
TrainingPlan plan_training(const std::string& mode, int shards, int slices_per_shard,
                           const TrainConfig& train, const std::vector<SliceRow>& slices,
                           const PlanSequences& sequences = {});

// The sequences of a shard for `train` (cyclic or bms), validated against `slices`; bms uses
// `probabilities` when given, else train.deletion_probabilities (empty = uniform).
std::vector<Sequence> select_sequences(const TrainConfig& train, int slices,
                                       const std::vector<double>& probabilities = {});

// retrain.policy = service: of the nodes `needed` (per plan node), the ones that complete, for
// every shard, the one sequence that needs the fewest records (node costs) to be whole again,
// the first of equals; the other sequences' nodes stay off until a later run. A shard with a
// whole live sequence needs nothing. Nodes outside shards (full, dp2) are kept as needed.
std::vector<bool> service_nodes(const TrainingPlan& plan, const std::vector<bool>& needed);

// The LoRA group node `prefix_length` of `mode` trains: len - 1 for s3t, 0 otherwise.
int node_group(const std::string& mode, size_t prefix_length);

}  // namespace lethe
