// Multi-adapter LoRA (kernels/sgmv.h): both phases are the same product, a segmented
//
//   Y[n, c] (+)= alpha * sum_k X[n, k] W_g[c, k]      for n in segment s, g = seg_adapter[s]
//
// with (X, W, Y, alpha) = (x, A, h, 1), stored (shrink, K = in, C = rank), then (h, B, y, scaling),
// added (expand, K = rank, C = out). One launch per phase covers all segments: block (s, c-tile,
// r) computes the BM x BN tiles of segment s's rows r, r + gridDim.z, ... (in BM-row steps) and
// columns c-tile, so every block reads one adapter's W_g and needs no search for its segment.
#include "kernels/sgmv_cuda.h"

#include <algorithm>
#include <string>

namespace lethe::kernels {

namespace {

// A 64 x 64 output tile per block of 16 x 16 threads, each thread 4 x 4 outputs strided by 16
// (so that a warp's loads from the shared tiles and its stores to Y are contiguous), over K in
// steps of 16. The shared tiles hold X and W transposed ([k][row]); the +1 keeps the transposing
// stores free of bank conflicts.
constexpr int BM = 64, BN = 64, BK = 16, kThreads = 256;
constexpr int64_t kMaxGridYZ = 65535;
static_assert(BM == BN, "the tile loader uses one index for X's rows and W's rows");
static_assert(BM * BK % kThreads == 0, "every thread loads the same number of elements");

template <bool kAccumulate>
__global__ void __launch_bounds__(kThreads)
segmented_xwt(const float* __restrict__ X, const float* const* __restrict__ W, float* __restrict__ Y, int64_t C,
              int64_t K, int64_t rows, const int64_t* __restrict__ seg_start, const int64_t* __restrict__ seg_adapter,
              int64_t num_adapters, float alpha) {
  const int64_t s = blockIdx.x;
  const int64_t g = seg_adapter[s];
  if (g < 0 || g >= num_adapters) return;  // no adapter, or a bad index: this segment's rows stay as they are
  const float* __restrict__ Wg = W[g];
  if (Wg == nullptr) return;
  const int64_t begin = max(seg_start[s], int64_t{0});
  const int64_t end = min(seg_start[s + 1], rows);
  const int64_t col0 = static_cast<int64_t>(blockIdx.y) * BN;

  __shared__ float Xs[BK][BM + 1];
  __shared__ float Ws[BK][BN + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

  // begin, end and row0 are the same for the whole block, so every thread meets the barriers.
  for (int64_t row0 = begin + static_cast<int64_t>(blockIdx.z) * BM; row0 < end; row0 += static_cast<int64_t>(gridDim.z) * BM) {
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += BK) {
      // Each thread loads 4 of the BM x BK elements of X and 4 of the BN x BK of W; consecutive
      // threads read consecutive k (one row's 16 floats), zero outside the matrices.
      for (int l = 0; l < BM * BK / kThreads; ++l) {
        const int idx = threadIdx.x + l * kThreads;
        const int r = idx / BK, k = idx % BK;
        const int64_t gk = k0 + k;
        const int64_t gr = row0 + r, gc = col0 + r;
        Xs[k][r] = (gr < end && gk < K) ? X[gr * K + gk] : 0.0f;
        Ws[k][r] = (gc < C && gk < K) ? Wg[gc * K + gk] : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        float xr[4], wc[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) xr[i] = Xs[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) wc[j] = Ws[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(xr[i], wc[j], acc[i][j]);
        }
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t gr = row0 + ty + 16 * i;
      if (gr >= end) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t gc = col0 + tx + 16 * j;
        if (gc >= C) continue;
        float* p = Y + gr * C + gc;
        if constexpr (kAccumulate) {
          *p += alpha * acc[i][j];
        } else {
          *p = alpha * acc[i][j];
        }
      }
    }
  }
}

}  // namespace

KernelStatus sgmv_cuda(const SgmvArgs& a, cudaStream_t stream) {
  if (KernelStatus st = sgmv_check_args(a); !st.ok()) return st;
  if (a.rows == 0 || a.num_segments == 0 || a.num_adapters == 0) return kernel_ok();
  const int64_t col_tiles = std::max((a.rank + BN - 1) / BN, (a.out + BN - 1) / BN);
  if (col_tiles > kMaxGridYZ) {
    return kernel_error("sgmv: out = " + std::to_string(a.out) + " and rank = " + std::to_string(a.rank) +
                        " need more than 65535 column tiles of " + std::to_string(BN));
  }
  // Row tiles per segment: enough for the longest segment, at most what one grid dimension holds.
  const int64_t longest = a.max_segment_rows > 0 ? a.max_segment_rows : a.rows;
  const unsigned row_blocks = static_cast<unsigned>(std::clamp<int64_t>((longest + BM - 1) / BM, 1, kMaxGridYZ));
  const unsigned segments = static_cast<unsigned>(a.num_segments);

  const dim3 shrink_grid(segments, static_cast<unsigned>((a.rank + BN - 1) / BN), row_blocks);
  segmented_xwt<false><<<shrink_grid, kThreads, 0, stream>>>(a.x, a.A, a.h, a.rank, a.in, a.rows, a.seg_start,
                                                               a.seg_adapter, a.num_adapters, 1.0f);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return kernel_error(std::string("sgmv: shrink launch: ") + cudaGetErrorString(e));

  const dim3 expand_grid(segments, static_cast<unsigned>((a.out + BN - 1) / BN), row_blocks);
  segmented_xwt<true><<<expand_grid, kThreads, 0, stream>>>(a.h, a.B, a.y, a.out, a.rank, a.rows, a.seg_start,
                                                              a.seg_adapter, a.num_adapters, a.scaling);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return kernel_error(std::string("sgmv: expand launch: ") + cudaGetErrorString(e));
  return kernel_ok();
}

}  // namespace lethe::kernels
