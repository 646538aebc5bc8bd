// Data parallelism inside a node: micro-batch boundaries, each member's share, the fixed-order
// sum of one rank alone, and how the run schedule sizes rank groups. Several ranks are tested
// end to end through mpirun (tests/e2e/data_parallel_test.cpp).
#include "tests/support/catch_torch.h"

#include <cmath>

#include "src/trainers/data_parallel.h"
#include "src/trainers/train_run.h"

using namespace lethe;

TEST_CASE("data parallel: micro-batches cut a step by the config alone, and members share them in order",
          "[data-parallel]") {
  using Bounds = std::vector<std::pair<int64_t, int64_t>>;
  CHECK(micro_batch_bounds(10, 4) == Bounds{{0, 4}, {4, 8}, {8, 10}});
  CHECK(micro_batch_bounds(10, 0) == Bounds{{0, 10}});
  CHECK(micro_batch_bounds(3, 8) == Bounds{{0, 3}});
  CHECK(micro_batch_bounds(0, 8).empty());  // a DP-SGD step may sample nothing
  for (int64_t count : {0, 1, 3, 4, 7}) {
    for (int size : {1, 2, 3, 5}) {
      INFO("count " << count << ", group of " << size);
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {  // contiguous, in member order, each exactly once
        const auto [first, last] = member_share(count, r, size);
        CHECK(first == next);
        CHECK(last >= first);
        CHECK(last - first <= (count + size - 1) / size);
        next = last;
      }
      CHECK(next == count);
    }
  }
  TrainConfig tc;
  tc.batch_size = 32;
  CHECK_FALSE(uses_micro_batches(tc));
  CHECK(max_ranks_per_node(tc) == 1);
  tc.micro_batch = 32;  // one micro-batch a step: the whole-batch arithmetic
  CHECK_FALSE(uses_micro_batches(tc));
  tc.micro_batch = 10;
  CHECK(uses_micro_batches(tc));
  CHECK(max_ranks_per_node(tc) == 4);
}

TEST_CASE("data parallel: one rank sums its micro-batches' gradients and scalars in micro-batch order",
          "[data-parallel]") {
  at::Tensor a = torch::zeros({3}, torch::kFloat), b = torch::zeros({2, 2}, torch::kFloat),
             unused = torch::zeros({2}, torch::kFloat);
  for (at::Tensor* t : {&a, &b, &unused}) t->set_requires_grad(true);
  RankGroup alone;
  StepReduction reduction(alone, {a, b, unused}, 2);
  const std::vector<at::Tensor> ga = {torch::tensor({1e8f, 1.0f, -0.0f}), torch::tensor({-1e8f, 2.0f, -0.0f}),
                                      torch::tensor({1.0f, 3.0f, -0.0f})};
  for (size_t m = 0; m < ga.size(); ++m) {
    a.mutable_grad() = ga[m].clone();
    b.mutable_grad() = at::Tensor();  // no gradient reached it: adds nothing
    if (m == 1) b.mutable_grad() = torch::full({2, 2}, 0.5f);
    reduction.add({static_cast<double>(m), 1.0});
  }
  const std::vector<double> scalars = reduction.finish("test");
  CHECK(scalars == std::vector<double>{3.0, 3.0});
  // (1e8 + -1e8) + 1 = 1 in float; summed in another order (1e8 + 1) - 1e8 would be 0.
  CHECK(a.grad()[0].item<float>() == 1.0f);
  CHECK(a.grad()[1].item<float>() == 6.0f);
  CHECK(std::signbit(a.grad()[2].item<float>()));  // -0 stays -0: the first term is copied, not added to 0
  CHECK(torch::equal(b.grad(), torch::full({2, 2}, 0.5f)));
  // No micro-batch reached it: no gradient, as after a whole-batch backward pass (AdamW skips it).
  CHECK_FALSE(unused.grad().defined());
}

namespace {

// A run of two units (one node each) of the given costs, every node to train.
RunPlan two_units(double first, double second, int max_group) {
  RunPlan run;
  for (double cost : {first, second}) {
    NodeSpec n;
    n.cost = cost;
    WorkUnit u;
    u.nodes = {static_cast<int>(run.plan.nodes.size())};
    u.cost = cost;
    run.plan.nodes.push_back(n);
    run.plan.units.push_back(u);
  }
  run.to_train = {true, true};
  run.max_group = max_group;
  return run;
}

}  // namespace

TEST_CASE("data parallel: spare ranks join the unit with the most work per rank, up to the micro-batches of a step",
          "[data-parallel][plan]") {
  // 5 ranks, 2 units: the second rank goes to the 300 (150 each), the third too (100 each), the
  // fourth to the first of the two at 100 each (75 each).
  const RunSchedule s = schedule_run(two_units(300, 100, 4), 5);
  CHECK(s.group_size == std::vector<int>{4, 1});
  CHECK(s.owner == std::vector<int>{0, 4});
  CHECK(unit_ranks(s, 0) == std::vector<int>{0, 1, 2, 3});
  CHECK(s.rank_load == std::vector<double>{75, 75, 75, 75, 100});
  CHECK(s.makespan == 100);
  CHECK(s.lower_bound == 80);
  CHECK(s.idle_ranks == 0);
  // At most 2 ranks a unit: the fifth rank has nothing to do.
  const RunSchedule capped = schedule_run(two_units(300, 100, 2), 5);
  CHECK(capped.group_size == std::vector<int>{2, 2});
  CHECK(capped.idle_ranks == 1);
  // Without micro-batches, or with no more ranks than units, each unit is one rank's.
  const RunSchedule whole = schedule_run(two_units(300, 100, 1), 5);
  CHECK(whole.group_size == std::vector<int>{1, 1});
  CHECK(whole.idle_ranks == 3);
  const RunSchedule two = schedule_run(two_units(300, 100, 4), 2);
  CHECK(two.group_size == std::vector<int>{1, 1});
  CHECK(two.owner == std::vector<int>{0, 1});
}
