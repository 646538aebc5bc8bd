// LibTorch tensors in, kernels/ out. With LETHE_CUDA (1 when CMake's LETHE_CUDA is on), fp32
// CUDA tensors go to the CUDA kernels on the current stream; everything else takes a LibTorch
// path that computes the same sums (and records autograd, which the kernels do not).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace lethe::kernels {

// One Linear layer's LoRA adapter, as peft/lora.h's LoraAdapter: A [rank, in], B [out, rank].
struct LoraPair {
  at::Tensor A;
  at::Tensor B;
};

// x's first dimension in contiguous segments: segment s is [start[s], start[s+1]) and uses
// adapters[adapter[s]], or none when adapter[s] < 0 (kernels/sgmv.h).
struct LoraSegments {
  std::vector<int64_t> start;    // num_segments + 1 entries: 0 first, x.size(0) last
  std::vector<int64_t> adapter;  // num_segments entries
};

// The segments of consecutive blocks of `rows[s]` rows, block s using adapter[s].
LoraSegments lora_segments(const std::vector<int64_t>& rows, std::vector<int64_t> adapter);

// scaling * B_g A_g x_n for every row n of x, g its segment's adapter, 0 for rows without one:
// x [N, ..., in] gives [N, ..., out], segments over the first dimension. Every adapter has the
// same rank, in and out. For eval over all shards at once: rows grouped per shard, one segment
// and one adapter per shard (that shard's adapter of this Linear layer; adapter[s] = -1 when the
// layer's group is not in shard s's serving prefix), called once per adapted Linear layer.
// Bad shapes or segments are ErrorKind::kInternal (the callers build them).
at::Tensor multi_lora(const at::Tensor& x, const LoraSegments& segments, const std::vector<LoraPair>& adapters,
                      double scaling);

#if LETHE_CUDA
// The Gram-form per-example norms (kernels/gram_norms.h) of fp32 CUDA tensors a [B, T, F1] and
// g [B, T, F2], on the current stream: src/privacy/ghost_norms.cpp's GPU path.
at::Tensor gram_sq_norms_cuda(const at::Tensor& a, const at::Tensor& g);
#endif

}  // namespace lethe::kernels
