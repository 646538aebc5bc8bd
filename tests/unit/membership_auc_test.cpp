// The membership-inference AUC against its definition over all pairs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "shards/plan.h"
#include "src/unlearning/membership_inference.h"

using namespace lethe;

namespace {

double brute_force_auc(const std::vector<double>& members, const std::vector<double>& outsiders) {
  double wins = 0;
  for (double m : members) {
    for (double o : outsiders) wins += m < o ? 1.0 : m == o ? 0.5 : 0.0;
  }
  return wins / static_cast<double>(members.size() * outsiders.size());
}

std::vector<double> draws(size_t n, uint64_t seed, double shift, int levels) {
  std::vector<double> v;
  for (size_t i = 0; i < n; ++i) v.push_back(shift + static_cast<double>(splitmix64(seed + i) % static_cast<uint64_t>(levels)));
  return v;
}

}  // namespace

TEST_CASE("membership AUC: equals the pairwise definition, ties counted half", "[mia]") {
  CHECK(*membership_auc({1, 2}, {3, 4}) == 1.0);   // members always lower: perfectly separated
  CHECK(*membership_auc({3, 4}, {1, 2}) == 0.0);
  CHECK(*membership_auc({1, 1}, {1, 1}) == 0.5);   // all ties
  CHECK(*membership_auc({1, 3}, {2}) == 0.5);
  CHECK_FALSE(membership_auc({}, {1}).has_value());
  CHECK_FALSE(membership_auc({1}, {}).has_value());
  for (uint64_t seed = 1; seed < 30; ++seed) {
    // Few distinct values, so that ties are common.
    const auto m = draws(37 + seed, seed * 1000, 0.0, 7), o = draws(53, seed * 7777, 1.0, 7);
    CHECK(*membership_auc(m, o) == Approx(brute_force_auc(m, o)).margin(1e-12));
  }
}
