// Spreading independent units of work (a shard's subtree of nodes, a shard, an eval chunk)
// over ranks by estimated cost. Deterministic: every rank computes the same assignment from
// the same costs, and which rank trains a unit never changes what is trained.
#pragma once

#include <vector>

namespace lethe {

// The rank of each unit: longest processing time first (units by decreasing cost, ties by
// index, each to the least loaded rank, ties to the lowest rank). `ranks` >= 1.
std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks);

}  // namespace lethe
