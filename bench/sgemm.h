// The machine's measured matrix-multiply peak, printed beside every benchmark result so that
// figures from different machines can be compared.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace lethe {

// GFLOP/s of the best of several n x n x n matrix products of `dtype` on `device` through
// LibTorch (the BLAS in use on the CPU, cuBLAS on a GPU). On the CPU it takes about a second at
// n = 2048 on two cores; a GPU wants n = 8192 to reach its peak.
double measure_gemm_gflops(c10::Device device, c10::ScalarType dtype, int n, int repeats = 5);

// The CPU's float32 peak.
inline double measure_sgemm_gflops(int n = 2048, int repeats = 5) {
  return measure_gemm_gflops(c10::kCPU, c10::kFloat, n, repeats);
}

// Waits for the work queued on `device` (nothing to wait for on the CPU): timings of GPU work
// must include it.
void wait_for(c10::Device device);

}  // namespace lethe
