// `lethe audit verify --replay N`: the proof that a served node was trained only on what its
// lineage says. A node's bytes are a function of its recorded inputs alone (its slices at the
// recorded hashes, its parent, the base, the training configuration and the seed derived from
// them; src/trainers/node_training.h), so training it again from those inputs must give the
// stored checkpoint byte for byte. A node trained on anything else (an extra record, another
// parent, other settings) does not.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/index/lineage_index.h"
#include "src/common/progress.h"
#include "src/trainers/node_training.h"
#include "src/trainers/train_run.h"
#include "src/workspace/workspace.h"

namespace lethe {

// A live node and the plan of its mode that says how to train it again.
struct ReplayCase {
  ComponentRow component;
  std::string mode;
  int node = -1;          // index into plans[mode].plan.nodes
  Numerics trained_with;  // as its checkpoint records it: the replay uses its thread count
  ComputeDevice device;   // where it is trained again: the device kind it recorded
};

// What replaying a node trains it from, gathered from the workspace as the lineage records it.
struct ReplayInputs {
  NodeSpec node;
  std::vector<AncestorRef> ancestors;  // parent first
  std::string parent_hash, config_hash, stored_hash;
  int groups = 1;
  Config config;  // the workspace's, with train.mode set to the node's mode
  SliceData data;  // the node's unit's slices, verified against their recorded hashes
  std::optional<DpSchedule> dp_schedule;  // a DP node's, as its run planned it from these inputs
  int threads = 0;  // the CPU threads it was trained with (0: not recorded, keep this process's)
  ComputeDevice device;  // ReplayCase::device
};

struct ReplayCases {
  Config config;                         // the configuration nodes are replayed under
  std::map<std::string, RunPlan> plans;  // by mode, with the recorded sequences restored
  std::vector<ReplayCase> cases;         // the live nodes that can be replayed, by component ID
  // The live nodes that cannot: their recorded inputs are no longer what the workspace would
  // give them (the configuration, base, parent or a slice changed). Each is a violation: it is
  // served, but nothing can show what it was trained on.
  std::vector<std::pair<ComponentRow, std::string>> unreplayable;
  // Differentially private nodes (dp2's DP base) whose slices changed since they trained
  // (records deleted or added): they stay live by their guarantee, but their inputs are gone,
  // so they cannot be replayed. Not a violation; reported.
  std::vector<ComponentRow> dp_inputs_changed;
  // Nodes trained on another device kind, GPU model, precision or LibTorch/CUDA version than this
  // process has: a replay
  // here could differ in the last bits without anything being wrong, so none is attempted. Not a
  // violation; reported with the reason (docs/gpu.md, "Determinism").
  std::vector<std::pair<ComponentRow, std::string>> other_numerics;
};

// `config`: the workspace's lethe.toml with the overrides training ran with (--set): a node
// trained under other settings cannot be replayed.
ReplayCases replay_cases(Workspace& ws, const Config& config);

ReplayInputs replay_inputs(Workspace& ws, const ReplayCases& cases, const ReplayCase& c);

// Trains the node again from `in`: the checkpoint it gives, to compare with the stored one.
NodeCheckpoint replay_train(Workspace& ws, const ReplayInputs& in, const ProgressOptions& progress);

// `count` cases drawn without replacement by a generator seeded with `seed` (all of them when
// count >= their number), in component order.
std::vector<ReplayCase> draw_cases(const std::vector<ReplayCase>& cases, int64_t count, uint64_t seed);

}  // namespace lethe
