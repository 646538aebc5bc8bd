// What serves, per training mode: for each shard the chain of live, hash-verified nodes it
// serves from, and the ensemble of those shards. Only live components ever serve; a shard
// whose first stage is not live drops out of the ensemble (fail closed). Which chain serves is
// the serving rule of shards/live_view.h (per Serving in src/config/modes.h), applied here with
// "a node is live when its component is live in the index":
//   s3t   per shard, the recorded sequence whose prefix of live nodes is longest (the lowest
//         index among equals); the chain's groups all apply, with the last node's head.
//   sisa  per shard, the longest live prefix of its one sequence; the last node alone serves.
//   full  the one model, when live.
//   dp2   the deployed model (after its DP base) when both are live; when only the DP base is
//         (a deletion switched the deployed model off), the DP base alone if `serve_dp_base`
//         (privacy.after_forget = "dp_base"), else nothing.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "shards/live_view.h"
#include "src/index/lineage_index.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct ShardView {
  int shard = 0;                    // -1 for full and dp2
  int sequence = -1;                // index into the shard's recorded sequences
  std::vector<ComponentRow> chain;  // the serving nodes, stage 1 first
};

struct View {
  std::string mode;
  int total_shards = 0;
  std::vector<ShardView> live;  // shards that can serve, by shard
};

// The serving rule applied to the index, with the live components it was computed from.
struct IndexLiveView {
  LiveView rule;
  std::map<std::pair<int, std::string>, ComponentRow> components;  // live, by (shard, name)
  int total_shards = 0;

  // The first `length` nodes of `chain` as their live components.
  std::vector<ComponentRow> rows(const std::vector<NodeRef>& chain, int length) const;
};

// ErrorKind::kNotFound when `mode` has never been trained in `ws`.
IndexLiveView live_in_index(Workspace& ws, const std::string& mode, bool serve_dp_base);

// What serves now: live_in_index's serving chains. kNotFound as live_in_index.
View current_view(Workspace& ws, const std::string& mode, bool serve_dp_base);

}  // namespace lethe
