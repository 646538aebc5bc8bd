#include "bench/bench_reduction.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "bench/sgemm.h"
#include "src/common/error.h"
#include "src/trainers/data_parallel.h"

namespace lethe {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The slowest rank's time of a step: a step ends for the job when it ends on every rank.
double slowest(const Comm& comm, double mine) {
  const std::vector<std::string> all = gather(comm, std::to_string(mine));
  double worst = mine;
  for (const std::string& s : all) worst = std::max(worst, std::stod(s));
  return std::stod(broadcast(comm, std::to_string(worst)));
}

// Host memory copy bandwidth (GB/s) of a buffer this size: the ceiling of moving gradients
// between processes on one machine.
double memcpy_gbps(size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  const auto t0 = Clock::now();
  int reps = 0;
  do {
    std::memcpy(b.data(), a.data(), bytes);
    a[static_cast<size_t>(reps) % bytes] = b[0];
    ++reps;
  } while (seconds_since(t0) < 0.2);
  return static_cast<double>(bytes) * reps / seconds_since(t0) / 1e9;
}

}  // namespace

nlohmann::json bench_reduction(const Comm& comm, const ReductionBenchOptions& o) {
  if (o.floats <= 0 || o.micro_batches <= 0 || o.rounds <= 0) fail(ErrorKind::kUsage, "bench reduction: sizes must be positive");
  if (o.floats > (int64_t{1} << 28)) fail(ErrorKind::kUsage, "bench reduction: --floats {} is above 2^28", o.floats);
  at::Tensor param = torch::zeros({o.floats}, torch::kFloat);
  param.set_requires_grad(true);
  std::vector<int> all(static_cast<size_t>(comm.size));
  std::iota(all.begin(), all.end(), 0);
  RankGroup group = RankGroup::split(comm, comm.size > 1 ? all : std::vector<int>{}, o.timeout);
  const auto [first, last] = member_share(o.micro_batches, comm.rank, comm.size);
  // Each micro-batch's gradient: seeded by its index, so every rank count sums the same terms.
  std::vector<at::Tensor> grads;
  for (int64_t m = first; m < last; ++m) {
    grads.push_back(torch::randn({o.floats}, at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(m) + 1)));
  }
  std::vector<double> fixed_s, allreduce_s;
  at::Tensor fixed_sum, fast_sum;
  for (int round = -3; round < o.rounds; ++round) {
    barrier(comm);
    auto t0 = Clock::now();
    StepReduction reduction(group, {param}, 1);
    for (const at::Tensor& g : grads) {
      param.mutable_grad() = g;
      reduction.add({1.0});
    }
    reduction.finish("bench reduction");
    const double fixed = slowest(comm, seconds_since(t0));
    fixed_sum = param.grad().clone();
    barrier(comm);
    t0 = Clock::now();
    at::Tensor local = torch::zeros({o.floats}, torch::kFloat);
    for (const at::Tensor& g : grads) local.add_(g);
    allreduce_sum(comm, local.data_ptr<float>(), static_cast<size_t>(o.floats));
    const double fast = slowest(comm, seconds_since(t0));
    fast_sum = local;
    if (round >= 0) fixed_s.push_back(fixed), allreduce_s.push_back(fast);
  }
  const double fixed = median(fixed_s), fast = median(allreduce_s);
  const size_t bytes = static_cast<size_t>(o.floats) * sizeof(float);
  return {{"ranks", comm.size},
          {"floats", o.floats},
          {"bytes_per_micro_batch", bytes},
          {"micro_batches", o.micro_batches},
          {"rounds", o.rounds},
          {"fixed_order_s", fixed},
          {"allreduce_s", fast},
          {"fixed_over_allreduce", fast > 0 ? fixed / fast : 0.0},
          {"sums_differ", !torch::equal(fixed_sum, fast_sum)},
          {"max_abs_difference", (fixed_sum - fast_sum).abs().max().item<double>()},
          {"memcpy_gbps", memcpy_gbps(bytes)},
          {"sgemm_peak_gflops", measure_sgemm_gflops()}};
}

}  // namespace lethe
