// Gram-form per-example gradient norms (kernels/gram_norms.h). Split each example's T positions
// into tiles of TT; block (p, b) takes the tile pair (I, J), I <= J, numbered p in row-major
// order over the upper triangle, and computes
//
//   partial[b, p] = w_IJ * sum_{t in I, s in J} (a_t . a_s)(g_t . g_s),   w_IJ = 1 if I = J else 2
//
// (both Gram matrices are symmetric, so the tile (J, I) equals (I, J)). Each of its 256 threads
// owns 4 of the TT x TT entries, accumulates a_t . a_s over the features in FK-wide shared tiles,
// then g_t . g_s the same way, and multiplies. A second launch sums partial[b, :] per example in a
// fixed order, so that the result does not depend on scheduling (no atomics).
#include "kernels/gram_norms_cuda.h"

#include <algorithm>
#include <limits>
#include <string>

namespace lethe::kernels {

namespace {

constexpr int TT = 32, FK = 32, kThreads = 256, kWarps = kThreads / 32;
constexpr int64_t kMaxGridY = 65535;
static_assert(TT * TT == 4 * kThreads, "each thread owns 4 entries of a tile");

__host__ __device__ int64_t tiles_of(int64_t T) { return (T + TT - 1) / TT; }
__host__ __device__ int64_t tile_pairs(int64_t T) { return tiles_of(T) * (tiles_of(T) + 1) / 2; }

// Thread (r, c) = (tid / 8, tid % 8) adds X_t . X_s for t = I*TT + r and s = J*TT + c + 8q,
// q = 0..3, to dots[q]; rows past T read as zero, so their products add nothing.
__device__ void tile_dots(const float* __restrict__ X, int64_t T, int64_t F, int64_t I, int64_t J,
                          float (&Ti)[TT][FK + 1], float (&Tj)[TT][FK + 1], float (&dots)[4]) {
  const int r = threadIdx.x / 8, c = threadIdx.x % 8;
  for (int64_t f0 = 0; f0 < F; f0 += FK) {
    for (int l = 0; l < TT * FK / kThreads; ++l) {  // consecutive threads read consecutive features
      const int idx = threadIdx.x + l * kThreads;
      const int row = idx / FK, f = idx % FK;
      const int64_t gf = f0 + f, ti = I * TT + row, tj = J * TT + row;
      Ti[row][f] = (ti < T && gf < F) ? X[ti * F + gf] : 0.0f;
      Tj[row][f] = (tj < T && gf < F) ? X[tj * F + gf] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < FK; ++k) {
      const float xi = Ti[r][k];
#pragma unroll
      for (int q = 0; q < 4; ++q) dots[q] = fmaf(xi, Tj[c + 8 * q][k], dots[q]);
    }
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kThreads)
gram_tile_pairs(const float* __restrict__ a, const float* __restrict__ g, float* __restrict__ partial, int64_t batch,
                int64_t T, int64_t f1, int64_t f2) {
  const int64_t n_tiles = tiles_of(T), pairs = tile_pairs(T);
  int64_t I = 0, rest = blockIdx.x;  // p -> (I, J): row I of the upper triangle holds n_tiles - I pairs
  while (rest >= n_tiles - I) {
    rest -= n_tiles - I;
    ++I;
  }
  const int64_t J = I + rest;

  __shared__ float Ti[TT][FK + 1];
  __shared__ float Tj[TT][FK + 1];
  __shared__ float warp_sums[kWarps];
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y) {
    float da[4] = {}, dg[4] = {};
    tile_dots(a + b * T * f1, T, f1, I, J, Ti, Tj, da);
    tile_dots(g + b * T * f2, T, f2, I, J, Ti, Tj, dg);
    float v = 0;
#pragma unroll
    for (int q = 0; q < 4; ++q) v = fmaf(da[q], dg[q], v);
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
      float sum = 0;
      for (int w = 0; w < kWarps; ++w) sum += warp_sums[w];
      partial[b * pairs + blockIdx.x] = (I == J ? 1.0f : 2.0f) * sum;
    }
    __syncthreads();  // warp_sums is reused by the next example
  }
}

// out[b] = sum_p partial[b, p]: one warp per example, lanes striding over p, then a shuffle tree.
__global__ void __launch_bounds__(kThreads)
sum_partials(const float* __restrict__ partial, float* __restrict__ out, int64_t batch, int64_t pairs) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (b >= batch) return;  // the whole warp leaves together
  const int lane = threadIdx.x % 32;
  float v = 0;
  for (int64_t p = lane; p < pairs; p += 32) v += partial[b * pairs + p];
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
  if (lane == 0) out[b] = v;
}

}  // namespace

size_t gram_norms_workspace_floats(int64_t batch, int64_t T) {
  if (batch <= 0 || T <= 0) return 0;
  return static_cast<size_t>(batch) * static_cast<size_t>(tile_pairs(T));
}

KernelStatus gram_norms_cuda(const GramNormArgs& a, float* workspace, size_t workspace_floats, cudaStream_t stream) {
  if (KernelStatus st = gram_norms_check_args(a); !st.ok()) return st;
  if (a.batch == 0) return kernel_ok();
  const int64_t pairs = tile_pairs(a.T);
  if (pairs > std::numeric_limits<int32_t>::max()) {
    return kernel_error("gram norms: T = " + std::to_string(a.T) + " gives too many tile pairs for one grid");
  }
  const size_t need = gram_norms_workspace_floats(a.batch, a.T);
  if (workspace == nullptr || workspace_floats < need) {
    return kernel_error("gram norms: the workspace holds " + std::to_string(workspace == nullptr ? 0 : workspace_floats) +
                        " floats, " + std::to_string(need) + " needed (gram_norms_workspace_floats)");
  }
  const dim3 grid(static_cast<unsigned>(pairs), static_cast<unsigned>(std::min(a.batch, kMaxGridY)));
  gram_tile_pairs<<<grid, kThreads, 0, stream>>>(a.a, a.g, workspace, a.batch, a.T, a.f1, a.f2);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return kernel_error(std::string("gram norms: launch: ") + cudaGetErrorString(e));
  const unsigned sum_blocks = static_cast<unsigned>((a.batch + kWarps - 1) / kWarps);
  sum_partials<<<sum_blocks, kThreads, 0, stream>>>(workspace, a.out, a.batch, pairs);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return kernel_error(std::string("gram norms: sum launch: ") + cudaGetErrorString(e));
  return kernel_ok();
}

}  // namespace lethe::kernels
