// Sequence selection: cyclic rotations, the Hungarian algorithm against brute force, BMS.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "shards/hungarian.h"
#include "shards/prefix_tree.h"
#include "shards/sequences.h"
#include "src/common/error.h"

using namespace lethe;

namespace {

bool is_permutation_of_slices(const Sequence& s, int slices) {
  Sequence sorted = s;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < slices; ++i) {
    if (sorted.size() != static_cast<size_t>(slices) || sorted[static_cast<size_t>(i)] != i) return false;
  }
  return true;
}

// The best total cost over every injective assignment of rows to columns.
double brute_force(const std::vector<std::vector<double>>& cost) {
  const size_t n = cost.size(), m = cost[0].size();
  std::vector<int> cols(m);
  for (size_t j = 0; j < m; ++j) cols[j] = static_cast<int>(j);
  double best = 1e300;
  do {  // the first n entries of each permutation are one assignment (repeats are harmless)
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += cost[i][static_cast<size_t>(cols[i])];
    best = std::min(best, total);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}

}  // namespace

TEST_CASE("sequences: cyclic gives the first B right-rotations", "[sequences]") {
  const auto s = cyclic_sequences(4, 3);
  REQUIRE(s.size() == 3);
  CHECK(s[0] == Sequence{0, 1, 2, 3});
  CHECK(s[1] == Sequence{3, 0, 1, 2});
  CHECK(s[2] == Sequence{2, 3, 0, 1});
}

TEST_CASE("sequences: cyclic with more sequences than slices rotates suffixes", "[sequences]") {
  const auto s = cyclic_sequences(4, 10);
  REQUIRE(s.size() == 10);
  std::set<Sequence> distinct(s.begin(), s.end());
  CHECK(distinct.size() == 10);
  for (const auto& q : s) CHECK(is_permutation_of_slices(q, 4));
  // The fifth keeps the first rotation's first slice and rotates the rest.
  CHECK(s[4] == Sequence{0, 3, 1, 2});
  CHECK(cyclic_sequences(3, 6).size() == 6);  // every order of 3 slices
  CHECK_THROWS_WITH(cyclic_sequences(3, 7), Catch::Contains("6 distinct orders"));
}

TEST_CASE("sequences: the Hungarian algorithm matches brute force", "[sequences]") {
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> dist(-5.0, 5.0);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t m = 1 + gen() % 6, n = 1 + gen() % m;
    std::vector<std::vector<double>> cost(n, std::vector<double>(m));
    for (auto& row : cost) {
      for (auto& c : row) c = trial % 3 == 0 ? std::round(dist(gen)) : dist(gen);  // ties too
    }
    const std::vector<int> col = min_cost_assignment(cost);
    REQUIRE(col.size() == n);
    std::set<int> used(col.begin(), col.end());
    CHECK(used.size() == n);  // distinct columns
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += cost[i][static_cast<size_t>(col[i])];
    CHECK(total == Approx(brute_force(cost)).margin(1e-9));
  }
}

TEST_CASE("sequences: bms puts likely-deleted slices late", "[sequences]") {
  // Slice 2 is nine times likelier to be hit than each of the others.
  const std::vector<double> p = {1, 1, 9, 1, 1};
  const auto s = bms_sequences(p, 3, 2.0);
  REQUIRE(s.size() == 3);
  for (const auto& q : s) {
    CHECK(is_permutation_of_slices(q, 5));
    CHECK(q[0] != 2);
  }
  // Distinct first slices: the sequences do not all lose their first stage to one deletion.
  CHECK(std::set<int>{s[0][0], s[1][0], s[2][0]}.size() == 3);
  // Each sequence scores at least as well as cyclic's matching one.
  const auto cyc = cyclic_sequences(5, 3);
  double bms_total = 0, cyclic_total = 0;
  for (int b = 0; b < 3; ++b) {
    bms_total += sequence_score(s[b], p, 2.0);
    cyclic_total += sequence_score(cyc[b], p, 2.0);
  }
  CHECK(bms_total > cyclic_total);
}

TEST_CASE("sequences: bms with uniform probabilities gives valid, deterministic orders", "[sequences]") {
  const std::vector<double> zero(4, 0.0);
  const auto a = bms_sequences(zero, 4, 1.0), b = bms_sequences(zero, 4, 1.0);
  CHECK(a == b);
  std::set<int> firsts;
  for (const auto& q : a) {
    CHECK(is_permutation_of_slices(q, 4));
    firsts.insert(q[0]);
  }
  CHECK(firsts.size() == 4);
  CHECK_THROWS_AS(bms_sequences(zero, 5, 1.0), Error);
  CHECK_THROWS_AS(bms_sequences({1, -1}, 1, 1.0), Error);
}

TEST_CASE("prefix tree: shared prefixes are trained once", "[sequences][prefix]") {
  // Cyclic with B > L shares first slices: 0123 and 0312 share node "0".
  const auto seqs = cyclic_sequences(4, 6);
  const PrefixTree tree = build_prefix_tree(seqs);
  CHECK(tree.stages_without_sharing == 24);
  CHECK(tree.nodes.size() < 24);
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const PrefixNode& n = tree.nodes[i];
    if (n.prefix.size() == 1) {
      CHECK(n.parent == -1);
    } else {
      REQUIRE(n.parent >= 0);
      CHECK(static_cast<size_t>(n.parent) < i);  // parents first
      const Sequence& parent = tree.nodes[static_cast<size_t>(n.parent)].prefix;
      CHECK(parent == Sequence(n.prefix.begin(), n.prefix.end() - 1));
    }
  }
  // Each sequence's path walks its own prefixes.
  for (size_t b = 0; b < seqs.size(); ++b) {
    REQUIRE(tree.path[b].size() == 4);
    CHECK(tree.nodes[static_cast<size_t>(tree.path[b].back())].prefix == seqs[b]);
  }
  CHECK(prefix_name({2, 0, 1}) == "2.0.1");
}

TEST_CASE("prefix tree: node seeds depend on identity and data, nothing else", "[sequences][prefix]") {
  const uint64_t a = node_seed(42, "s3t", 1, {2, 0}, {"h2", "h0"});
  CHECK(a == node_seed(42, "s3t", 1, {2, 0}, {"h2", "h0"}));
  CHECK(a != node_seed(42, "s3t", 0, {2, 0}, {"h2", "h0"}));   // another shard
  CHECK(a != node_seed(42, "s3t", 1, {0, 2}, {"h0", "h2"}));   // another order
  CHECK(a != node_seed(42, "s3t", 1, {2, 0}, {"h2", "h0'"}));  // a slice rewritten (a purge)
  CHECK(a != node_seed(43, "s3t", 1, {2, 0}, {"h2", "h0"}));   // another configured seed
  CHECK(a != node_seed(42, "sisa", 1, {2, 0}, {"h2", "h0"}));  // another mode
}
