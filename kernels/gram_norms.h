// Per-example squared gradient norms of a Linear weight in Gram form, for DP-SGD's ghost
// clipping: the quantity of lethe::linear_weight_sq_norms (src/privacy/ghost_norms.h, which says
// why), without LibTorch. Example b has inputs a_t = a[b, t, :] (F1 features) and output
// gradients g_t = g[b, t, :] (F2 features) at positions t = 0..T-1; its weight gradient is
// G_b = sum_t g_t a_t^T [F2, F1], and
//
//   out[b] = ||G_b||_F^2 = sum_{t,s} (a_t . a_s)(g_t . g_s) = <a a^T, g g^T>_F,
//
// the inner product of the two T x T Gram matrices: O(T^2 (F1 + F2)) instead of O(T F1 F2).
// Both Gram matrices are symmetric, so the CUDA kernel sums the tiles (I, J) of (t, s) with
// I <= J and counts an off-diagonal tile twice. With T = 1 it is ||a||^2 ||g||^2.
//
// Row-major fp32 [batch, T, F]. The CUDA kernel (kernels/gram_norms_cuda.h) accumulates in fp32
// and sums its partial results in a fixed order (deterministic); the reference accumulates in double.
#pragma once

#include <cstdint>

#include "kernels/status.h"

namespace lethe::kernels {

// Pointers are host pointers for the reference and device pointers for the CUDA kernel.
struct GramNormArgs {
  const float* a = nullptr;  // [batch, T, f1]
  const float* g = nullptr;  // [batch, T, f2]
  float* out = nullptr;      // [batch]
  int64_t batch = 0, T = 0, f1 = 0, f2 = 0;
};

// batch >= 0; T, f1, f2 >= 1; every size and batch x T below 2^31; no null pointer where data is needed.
KernelStatus gram_norms_check_args(const GramNormArgs& args);

// The reference: the check, then out[b] = sum_{t,s} (a_t . a_s)(g_t . g_s) on host memory.
KernelStatus gram_norms_reference(const GramNormArgs& args);

}  // namespace lethe::kernels
