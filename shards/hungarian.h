// The Hungarian algorithm (Kuhn-Munkres with potentials), for the assignment problems of
// sequence selection. O(rows^2 * cols).
#pragma once

#include <vector>

namespace lethe {

// Assigns each row of `cost` (rows <= cols, every row the same length) to a distinct column
// so that the total cost is minimal; returns the column of each row. Ties are broken
// deterministically (by index). Costs must be finite.
std::vector<int> min_cost_assignment(const std::vector<std::vector<double>>& cost);

}  // namespace lethe
