#include "shards/work_assignment.h"

#include <algorithm>
#include <numeric>

namespace lethe {

std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks) {
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<size_t>(std::max(ranks, 1)), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (size_t u : order) {
    const size_t r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[u] = static_cast<int>(r);
    load[r] += costs[u];
  }
  return owner;
}

}  // namespace lethe
