#include "shards/hungarian.h"

#include <limits>

#include "src/common/error.h"

namespace lethe {

// The classic O(n^2 m) formulation with row potentials u, column potentials v and a
// shortest augmenting path per row (1-based arrays, column 0 as the virtual start).
std::vector<int> min_cost_assignment(const std::vector<std::vector<double>>& cost) {
  const int n = static_cast<int>(cost.size());
  if (n == 0) return {};
  const int m = static_cast<int>(cost[0].size());
  if (n > m) fail(ErrorKind::kInternal, "assignment needs rows ({}) <= columns ({})", n, m);
  for (const auto& row : cost) {
    if (static_cast<int>(row.size()) != m) fail(ErrorKind::kInternal, "ragged assignment matrix");
  }
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0);
  std::vector<int> p(m + 1, 0), way(m + 1, 0);  // p[j]: row matched to column j
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::vector<double> minv(m + 1, inf);
    std::vector<bool> used(m + 1, false);
    do {
      used[j0] = true;
      const int i0 = p[j0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {  // augment along the path
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> column(n, -1);
  for (int j = 1; j <= m; ++j) {
    if (p[j] != 0) column[p[j] - 1] = j - 1;
  }
  return column;
}

}  // namespace lethe
