#include "bench/sgemm.h"

#include <chrono>

#include <torch/cuda.h>
#include <torch/torch.h>

namespace lethe {

void wait_for(c10::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double measure_gemm_gflops(c10::Device device, c10::ScalarType dtype, int n, int repeats) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  const auto a = torch::rand({n, n}, options);
  const auto b = torch::rand({n, n}, options);
  auto c = torch::mm(a, b);  // warm-up: thread pools, page faults, cuBLAS's handle
  wait_for(device);
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    wait_for(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  return 2.0 * n * static_cast<double>(n) * n / best / 1e9;
}

}  // namespace lethe
