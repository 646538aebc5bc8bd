// Building blocks shared by the architectures (internal to src/models).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "src/models/model.h"

namespace lethe::blocks {

// y = x W^T (+ b) plus the LoRA update of `name`, if an enabled adapter exists.
at::Tensor linear(const Weights& w, const ForwardOptions& o, const std::string& name,
                  const at::Tensor& x);

// Llama's RMSNorm, computed in float32 as Hugging Face does.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Rotary position embedding tables (cos, sin), each [T, head_dim], Hugging Face's layout
// (frequencies repeated: cat(freqs, freqs)).
std::pair<at::Tensor, at::Tensor> rope_tables(int64_t seq_len, int64_t head_dim, double theta,
                                              c10::Device device = c10::kCPU);

// One pre-norm block: self-attention (causal or not, RoPE when `rope` is given) and a SwiGLU
// MLP, each with a residual. Names are Llama's: <prefix>.self_attn.{q,k,v,o}_proj,
// <prefix>.mlp.{gate,up,down}_proj, <prefix>.{input,post_attention}_layernorm.
at::Tensor transformer_block(const ModelSpec& spec, const Weights& w, const ForwardOptions& o,
                             const std::string& prefix, const at::Tensor& h, bool causal,
                             const std::pair<at::Tensor, at::Tensor>* rope);

// Weight shapes of one such block, added to `shapes`; Linear layers added to `linears`.
void block_shapes(const ModelSpec& spec, int layer, std::map<std::string, std::vector<int64_t>>& shapes,
                  std::vector<LinearInfo>* linears);

// Forward FLOPs of one block for a sequence of `t` tokens.
double block_flops(const ModelSpec& spec, int64_t t);

}  // namespace lethe::blocks
