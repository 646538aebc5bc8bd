// Multi-adapter LoRA as a segmented gather matmul (SGMV: Punica, Chen et al. 2023; S-LoRA,
// Sheng et al. 2023). The rows of x are grouped in contiguous segments; segment s uses adapter
// g = seg_adapter[s], or none when g < 0, and each row n of the segment gets
//
//   h[n, j]  = sum_k x[n, k] A_g[j, k]              shrink: h = x A_g^T        [rows, rank]
//   y[n, o] += scaling * sum_j h[n, j] B_g[o, j]    expand: y += s h B_g^T     [rows, out]
//
// that is y_n += s B_g A_g x_n, peft/lora.h's update (y += s B (A x)) with an adapter chosen per
// segment. Rows of a segment without an adapter keep their y (and their h is not written).
// Lethe's use: eval runs every shard's serving prefix over one batch; the rows are grouped per
// shard, one segment per shard, and g is that shard's adapter of the Linear layer at hand (none
// when the layer's LoRA group is not in the shard's serving prefix).
//
// Matrices are row-major fp32. The CUDA kernel (kernels/sgmv_cuda.h) accumulates in fp32, the
// reference below in double, so that it is the more accurate side of every comparison.
#pragma once

#include <cstdint>

#include "kernels/status.h"

namespace lethe::kernels {

// Pointers are host pointers for the reference and device pointers for the CUDA kernel.
struct SgmvArgs {
  const float* x = nullptr;              // [rows, in]
  float* y = nullptr;                    // [rows, out], accumulated into
  float* h = nullptr;                    // [rows, rank], receives the shrink's result
  const int64_t* seg_start = nullptr;    // [num_segments + 1]: segment s is rows [seg_start[s], seg_start[s+1])
  const int64_t* seg_adapter = nullptr;  // [num_segments]: an index into A and B, < 0 for no adapter
  const float* const* A = nullptr;       // [num_adapters] pointers to A_g [rank, in]
  const float* const* B = nullptr;       // [num_adapters] pointers to B_g [out, rank]
  int64_t rows = 0, in = 0, out = 0, rank = 0;
  int64_t num_segments = 0, num_adapters = 0;
  // The longest segment, when the caller knows it: sizes the kernel's grid. 0 means rows. A
  // smaller value than the truth stays correct (blocks stride over their segment), only slower.
  int64_t max_segment_rows = 0;
  float scaling = 1;
};

// The sizes and pointers of `args`, not the segment table: in range (in, out, rank >= 1, rows,
// segments and adapters >= 0, every size below 2^31) and no null pointer where data is needed.
KernelStatus sgmv_check_args(const SgmvArgs& args);

// A segment table in host memory: seg_start[0] = 0, non-decreasing, seg_start[S] = rows (so the
// segments tile the rows, none overlaps), and every adapter index < num_adapters. The kernel
// reads the table from device memory and cannot report; callers check their host copy here.
KernelStatus sgmv_check_segments(const int64_t* seg_start, const int64_t* seg_adapter, int64_t num_segments,
                                 int64_t rows, int64_t num_adapters);

// The reference: both checks, then the two sums above, row by row, on host memory.
KernelStatus sgmv_reference(const SgmvArgs& args);

}  // namespace lethe::kernels
