// Training plans per mode, and the assignment of their units to ranks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include "shards/work_assignment.h"
#include "src/common/error.h"
#include "src/trainers/node_training.h"
#include "src/trainers/training_plan.h"

using namespace lethe;

namespace {

std::vector<SliceRow> train_slices(int shards, int slices, uint64_t live) {
  std::vector<SliceRow> rows;
  for (int s = 0; s < shards; ++s) {
    for (int l = 0; l < slices; ++l) {
      SliceRow r;
      r.kind = "train";
      r.shard = s;
      r.slice = l;
      r.live = live + static_cast<uint64_t>(l);
      rows.push_back(r);
    }
  }
  return rows;
}

// Parents come before children within each unit, and every node is in exactly one unit.
void check_units(const TrainingPlan& p) {
  std::vector<int> seen(p.nodes.size(), 0);
  for (const WorkUnit& u : p.units) {
    std::set<int> done;
    for (int k : u.nodes) {
      ++seen[static_cast<size_t>(k)];
      const int parent = p.nodes[static_cast<size_t>(k)].parent;
      if (parent >= 0) CHECK(done.count(parent) == 1);
      done.insert(k);
    }
  }
  for (int n : seen) CHECK(n == 1);
}

}  // namespace

TEST_CASE("training plan: s3t has one unit per first stage, groups counted by depth", "[plan][train]") {
  TrainConfig tc;
  tc.sequences = 3;
  const TrainingPlan p = plan_training("s3t", 2, 4, tc, train_slices(2, 4, 100));
  CHECK(p.groups == 4);
  CHECK(p.nodes.size() == 2 * 3 * 4);  // three rotations share no prefix
  CHECK(p.units.size() == 2 * 3);
  CHECK(p.stages_without_sharing == 24);
  check_units(p);
  for (const NodeSpec& n : p.nodes) {
    CHECK(n.kind == "s3t");
    CHECK(n.group == static_cast<int>(n.prefix.size()) - 1);
  }
  // Unit cost: records of every node's prefix (epochs_per_stage = 2).
  const WorkUnit& u = p.units[0];
  const NodeSpec& first = p.nodes[static_cast<size_t>(u.nodes[0])];
  CHECK(first.prefix.size() == 1);
  CHECK(u.cost > 0);

  SECTION("B > L shares prefixes: fewer nodes than stages") {
    tc.sequences = 6;
    const TrainingPlan q = plan_training("s3t", 1, 3, tc, train_slices(1, 3, 10));
    CHECK(q.stages_without_sharing == 18);
    CHECK(q.nodes.size() < 18);
    check_units(q);
  }
}

TEST_CASE("training plan: sisa chains each shard's slices in one group", "[plan][train]") {
  const TrainingPlan p = plan_training("sisa", 3, 4, TrainConfig{}, train_slices(3, 4, 50));
  CHECK(p.groups == 1);
  CHECK(p.nodes.size() == 12);
  CHECK(p.units.size() == 3);
  check_units(p);
  CHECK(p.nodes[3].name == "0.1.2.3");
  CHECK(p.nodes[3].parent == 2);
  for (const NodeSpec& n : p.nodes) CHECK(n.group == 0);
}

TEST_CASE("training plan: full is one node over every train slice", "[plan][train]") {
  TrainConfig tc;
  tc.epochs_per_stage = 1;
  const TrainingPlan p = plan_training("full", 2, 3, tc, train_slices(2, 3, 10));
  REQUIRE(p.nodes.size() == 1);
  CHECK(p.nodes[0].shard == -1);
  CHECK(p.nodes[0].name == "all");
  CHECK(p.nodes[0].prefix.size() == 6);
  CHECK(p.units[0].cost == Approx(2 * (10 + 11 + 12)));
}

TEST_CASE("training plan: unknown modes and impossible selections are usage errors", "[plan][train]") {
  CHECK_THROWS_AS(plan_training("sharded", 2, 2, TrainConfig{}, {}), Error);
  TrainConfig tc;
  tc.selection = "bms";
  tc.sequences = 2;
  tc.deletion_probabilities = {0.1, 0.2, 0.3};  // three values for two slices
  CHECK_THROWS_AS(plan_training("s3t", 1, 2, tc, {}), Error);
}

TEST_CASE("work assignment: longest first to the least loaded rank, deterministic", "[plan][mpi]") {
  const std::vector<double> costs = {5, 1, 4, 3, 3, 2};
  const std::vector<int> a = assign_by_cost(costs, 2);
  CHECK(a == assign_by_cost(costs, 2));
  std::vector<double> load(2, 0);
  for (size_t u = 0; u < costs.size(); ++u) load[static_cast<size_t>(a[u])] += costs[u];
  CHECK(load[0] == 9);  // 5 + 3 + 1
  CHECK(load[1] == 9);  // 4 + 3 + 2
  CHECK(assign_by_cost(costs, 1) == std::vector<int>(6, 0));
  // More ranks than units: each unit on its own rank.
  const std::vector<int> wide = assign_by_cost({2, 1}, 4);
  CHECK(wide[0] != wide[1]);
}

TEST_CASE("training plan: owner priors steer bms per shard", "[plan][train][bms]") {
  TrainConfig tc;
  tc.selection = "bms";
  tc.sequences = 2;
  tc.owner_priors = "priors.csv";  // only its presence matters here
  // Shard 0: slice 1 is likely deleted; shard 1: slice 0.
  const std::vector<std::vector<double>> p = {{0.01, 0.9, 0.01}, {0.9, 0.01, 0.01}};
  PlanSequences given;
  given.shard_probabilities = p;
  const TrainingPlan plan = plan_training("s3t", 2, 3, tc, train_slices(2, 3, 10), given);
  for (const Sequence& s : plan.sequences.at(0)) CHECK(s.back() == 1);
  for (const Sequence& s : plan.sequences.at(1)) CHECK(s.back() == 0);
  tc.selection = "cyclic";
  CHECK_THROWS_AS(plan_training("s3t", 2, 3, tc, train_slices(2, 3, 10)), Error);
}

TEST_CASE("training plan: recorded sequences are restored whatever the config selects", "[plan][train]") {
  TrainConfig tc;  // cyclic, which would give 0 1 2 and 2 0 1
  tc.sequences = 2;
  PlanSequences given;
  given.recorded = {{0, {{1, 0, 2}, {2, 1, 0}}}, {1, {{0, 2, 1}}}};
  const TrainingPlan plan = plan_training("s3t", 2, 3, tc, train_slices(2, 3, 10), given);
  CHECK(plan.sequences.at(0) == given.recorded.at(0));
  CHECK(plan.sequences.at(1) == given.recorded.at(1));
  CHECK(plan.nodes.size() == 6 + 3);  // shard 0 shares nothing; shard 1 has one sequence
  given.recorded[1] = {{0, 2, 2}};    // not an order of the slices
  CHECK_THROWS_AS(plan_training("s3t", 2, 3, tc, train_slices(2, 3, 10), given), Error);
  given.recorded.erase(1);            // a shard without sequences
  CHECK_THROWS_AS(plan_training("s3t", 2, 3, tc, train_slices(2, 3, 10), given), Error);
}

TEST_CASE("learning rate: warmup, then constant, linear or cosine decay", "[train]") {
  TrainConfig tc;
  tc.lr = 1.0;
  CHECK(scheduled_lr(tc, 0, 10) == 1.0);
  CHECK(scheduled_lr(tc, 9, 10) == 1.0);
  tc.lr_schedule = "linear";
  CHECK(scheduled_lr(tc, 0, 10) == 1.0);
  CHECK(scheduled_lr(tc, 5, 10) == Approx(0.5));
  tc.lr_schedule = "cosine";
  CHECK(scheduled_lr(tc, 5, 10) == Approx(0.5));
  CHECK(scheduled_lr(tc, 9, 10) < 0.1);
  tc.warmup_ratio = 0.5;  // 5 warmup steps: 1/6 .. 5/6, then decay from 1
  CHECK(scheduled_lr(tc, 0, 10) == Approx(1.0 / 6));
  CHECK(scheduled_lr(tc, 4, 10) == Approx(5.0 / 6));
  CHECK(scheduled_lr(tc, 5, 10) == Approx(1.0));
}

TEST_CASE("retrain policy service: per shard only the sequence cheapest to make whole, others stay off",
          "[plan][train][policy]") {
  TrainConfig tc;
  tc.sequences = 2;
  PlanSequences given;
  given.recorded = {{0, {{0, 1, 2}, {2, 1, 0}}}, {1, {{0, 1, 2}, {1, 2, 0}}}};
  // Slice l holds 10 + l records: slice 2 is the largest.
  const TrainingPlan plan = plan_training("s3t", 2, 3, tc, train_slices(2, 3, 10), given);
  const auto node = [&](int shard, const std::string& name) {
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
      if (plan.nodes[k].shard == shard && plan.nodes[k].name == name) return k;
    }
    FAIL("no node " << shard << ":" << name);
    return size_t{0};
  };
  // A deletion in slice 1 of each shard switched off every node that saw it.
  std::vector<bool> needed(plan.nodes.size(), false);
  for (size_t k = 0; k < plan.nodes.size(); ++k) {
    const Sequence& p = plan.nodes[k].prefix;
    needed[k] = std::find(p.begin(), p.end(), 1) != p.end();
  }
  const std::vector<bool> chosen = service_nodes(plan, needed);
  // Shard 0: making 0.1.2 whole retrains 0.1 and 0.1.2 (2 x (21 + 33) records); making 2.1.0
  // whole retrains 2.1 and 2.1.0 (2 x (23 + 33)): 0.1.2 is cheaper.
  CHECK(chosen[node(0, "0.1")]);
  CHECK(chosen[node(0, "0.1.2")]);
  CHECK(!chosen[node(0, "2.1")]);
  CHECK(!chosen[node(0, "2.1.0")]);
  // Shard 1: 1.2.0 lost every stage (2 x (11 + 23 + 33)), 0.1.2 keeps its first (2 x (21 + 33)).
  CHECK(chosen[node(1, "0.1")]);
  CHECK(!chosen[node(1, "1")]);
  CHECK(!chosen[node(1, "1.2.0")]);
  // Nothing outside what was needed; nothing at all for a shard with a whole live sequence.
  for (size_t k = 0; k < chosen.size(); ++k) CHECK((!chosen[k] || needed[k]));
  std::vector<bool> shard0_whole = needed;
  for (size_t k = 0; k < plan.nodes.size(); ++k) {
    if (plan.nodes[k].shard == 0 && plan.nodes[k].prefix.front() == 2) shard0_whole[k] = false;
  }
  const std::vector<bool> none = service_nodes(plan, shard0_whole);
  for (size_t k = 0; k < plan.nodes.size(); ++k) {
    if (plan.nodes[k].shard == 0) CHECK(!none[k]);
  }
  // full has no shard to choose in: what is needed stays needed.
  const TrainingPlan full = plan_training("full", 2, 3, tc, train_slices(2, 3, 10));
  CHECK(service_nodes(full, {true}) == std::vector<bool>{true});
}
