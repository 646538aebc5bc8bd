#include "bench/sgemm.h"

#include <chrono>

#include <torch/torch.h>

namespace lethe {

double measure_sgemm_gflops(int n, int repeats) {
  torch::NoGradGuard no_grad;
  const auto a = torch::rand({n, n});
  const auto b = torch::rand({n, n});
  auto c = torch::mm(a, b);  // warm-up: thread pools, page faults
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  return 2.0 * n * static_cast<double>(n) * n / best / 1e9;
}

}  // namespace lethe
