// The serving rule, in one place: which nodes are live and which chain serves, per shard. Like
// LevelDB's Version, one immutable answer computed once from the mode (src/config/modes.h), the
// recorded sequences and a liveness predicate over nodes; everything that asks "what serves" or
// "what must be retrained" reads it:
//   serving (src/serving/serving_view.h) with "the node's component is live in the index";
//   retraining state (lethe status, retrain --if-needed) reads the live prefix of each sequence;
//   the deletion replay passes a hypothetical predicate: live now and touching no slice its
//   simulated deletions reached.
// The rule (per Serving of the mode): a chain's live prefix is its leading nodes the predicate
// calls live, stopping at the first that is not (a node serves only after all its ancestors).
// Per shard the chain with the longest live prefix serves, the lowest index among equals; a
// shard whose every first node is dead drops out. dp2's chain is dp_base then deployed; the DP
// base alone serves only when `serve_dp_base` (privacy.after_forget = "dp_base").
// Here because it is pure (no storage, no LibTorch): both serving and unlearning use it, and it
// is unit-tested on in-memory fixtures.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "shards/sequences.h"
#include "src/config/modes.h"

namespace lethe {

struct NodeRef {
  int shard = -1;    // -1 for the unsharded modes (full, dp2)
  std::string name;  // its name in the index: "2.0.1" (prefix_name), "all", "dp_base", "deployed"
  Sequence prefix;   // the shard's slices it has seen, in training order; empty when unsharded
};

// Whether a node counts as live for the question asked.
using NodeLive = std::function<bool(const NodeRef&)>;

struct ShardLive {
  int shard = -1;
  std::vector<std::vector<NodeRef>> chains;  // per sequence: its nodes, stage 1 first
  std::vector<int> live_prefix;              // per chain: how many leading nodes are live
  int serving = -1;                          // the chain that serves; -1: the shard drops out
  int serving_length = 0;                    // how many of its leading nodes serve

  // The nodes on no live prefix (what retraining rebuilds), each once, in the order the chains
  // first reach them.
  std::vector<NodeRef> dirty() const;
};

struct LiveView {
  Mode mode = Mode::kS3t;
  std::map<int, std::vector<Sequence>> sequences;  // what it was computed from (sharded modes)
  std::vector<ShardLive> shards;  // sharded modes: one per shard, by shard; otherwise one, shard -1

  int serving_shards() const;  // shards that can serve
};

// `sequences` per shard for the sharded modes (ignored otherwise). The predicate is asked about
// each chain's nodes in order until the first it calls dead.
LiveView live_view(Mode mode, const std::map<int, std::vector<Sequence>>& sequences, const NodeLive& live,
                   bool serve_dp_base);

}  // namespace lethe
