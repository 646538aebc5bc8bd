// The membership-inference AUCs: against their definitions, and the own-shard comparison against the
// deleted-vs-test one on a forgotten owner whose records resemble each other.
#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
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

namespace {

double unit(uint64_t seed) { return static_cast<double>(splitmix64(seed) % 1000000) / 1e6; }

// Losses of 4 shard models of different quality on 400 test records and on the 66 records of
// one owner from shard 2, which resemble each other: all easier than typical records, in a
// narrow band. `remembered` is how much lower shard 2's loss on them is than a model that never
// saw them would give (0: properly forgotten).
struct OwnerFixture {
  std::vector<std::vector<double>> test, owner;  // [model][record]
  std::vector<double> test_ensemble, owner_ensemble;
};

OwnerFixture owner_fixture(double remembered) {
  const double quality[] = {0.0, 0.3, -0.2, 0.1};
  OwnerFixture f;
  f.test.resize(4);
  f.owner.resize(4);
  for (int r = 0; r < 400; ++r) {
    const double difficulty = unit(1000 + r);
    double sum = 0;
    for (int m = 0; m < 4; ++m) {
      f.test[m].push_back(difficulty + quality[m] + 0.3 * unit(50000 + 1000 * m + r));
      sum += f.test[m].back();
    }
    f.test_ensemble.push_back(sum / 4);
  }
  for (int r = 0; r < 66; ++r) {
    const double difficulty = 0.3 * unit(9000 + r) - 0.2;
    double sum = 0;
    for (int m = 0; m < 4; ++m) {
      f.owner[m].push_back(difficulty + quality[m] + 0.3 * unit(90000 + 1000 * m + r) - (m == 2 ? remembered : 0));
      sum += f.owner[m].back();
    }
    f.owner_ensemble.push_back(sum / 4);
  }
  return f;
}

std::vector<double> centres(const OwnerFixture& f) {
  std::vector<double> c;
  for (const auto& m : f.test) c.push_back(std::accumulate(m.begin(), m.end(), 0.0) / static_cast<double>(m.size()));
  return c;
}

}  // namespace

TEST_CASE("membership AUC: own shard vs other shards stays near 0.5 for a forgotten owner whose records resemble each "
          "other, where deleted-vs-test does not", "[mia]") {
  const std::vector<int> from_shard_2(66, 2);
  const OwnerFixture forgotten = owner_fixture(0.0);
  // The old comparison measures how the owner's records differ from test records, not memory.
  CHECK(*membership_auc(forgotten.owner_ensemble, forgotten.test_ensemble) > 0.75);
  const double fair = *own_shard_auc(forgotten.owner, from_shard_2, centres(forgotten));
  CHECK(fair > 0.4);
  CHECK(fair < 0.6);
  // A shard model that still remembers them is caught.
  const OwnerFixture kept = owner_fixture(0.4);
  CHECK(*own_shard_auc(kept.owner, from_shard_2, centres(kept)) > 0.75);
  // Records whose shard does not serve are skipped; none left: no number.
  CHECK_FALSE(own_shard_auc(forgotten.owner, std::vector<int>(66, -1), centres(forgotten)).has_value());
  CHECK(*own_shard_auc({{1.0}, {2.0}}, {0}, {0.0, 0.0}) == 1.0);
  CHECK(*own_shard_auc({{2.0}, {1.0}}, {0}, {0.0, 0.0}) == 0.0);
  CHECK(*own_shard_auc({{2.0}, {1.0}}, {0}, {1.0, 0.0}) == 0.5);  // centred: a tie
}
