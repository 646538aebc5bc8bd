#include "src/models/blocks.h"

#include <torch/torch.h>

#include <cmath>

#include "src/common/error.h"
#include "src/models/multi_lora.h"

namespace lethe::blocks {

namespace {

const at::Tensor& weight(const Weights& w, const std::string& name) {
  const auto it = w.find(name);
  if (it == w.end()) fail(ErrorKind::kInternal, "model weight '{}' is missing", name);
  return it->second;
}

// Hugging Face's rotate_half: (x1, x2) -> (-x2, x1) over the two halves of the last dimension.
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

}  // namespace

at::Tensor linear(const Weights& w, const ForwardOptions& o, const std::string& name,
                  const at::Tensor& x) {
  const auto bias_it = w.find(name + ".bias");
  const at::Tensor bias = bias_it == w.end() ? at::Tensor() : bias_it->second;
  if (o.multi != nullptr) {  // every member over its own rows (src/models/multi_lora.h)
    std::optional<at::Tensor> own = member_linear(*o.multi, name, x, bias);
    at::Tensor y = own ? *own : torch::nn::functional::linear(x, weight(w, name + ".weight"), bias);
    if (auto delta = multi_lora_delta(*o.multi, name, x)) y = y + *delta;
    return y;
  }
  const at::Tensor& W = weight(w, name + ".weight");
  at::Tensor y = torch::nn::functional::linear(x, W, bias);
  if (o.capture != nullptr && (W.requires_grad() || (bias.defined() && bias.requires_grad()))) {
    o.capture->linears.push_back({name, x, y, W, bias});
  }
  if (o.lora != nullptr) {
    at::Tensor entered_a;
    if (auto delta = lora_delta(*o.lora, name, x, o.training, o.generator, o.capture ? &entered_a : nullptr)) {
      if (o.capture != nullptr && delta->requires_grad() && o.lora->adapters.at(name).A.requires_grad()) {
        o.capture->adapters.push_back({name, entered_a, *delta});
      }
      y = y + *delta;
    }
  }
  return y;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  // Half-precision inputs are normalised in float32, as Hugging Face does; float64 stays
  // float64 (the gradient checks run in it).
  const at::Tensor xf = x.scalar_type() == torch::kFloat64 ? x : x.to(torch::kFloat32);
  const at::Tensor normed = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

std::pair<at::Tensor, at::Tensor> rope_tables(int64_t seq_len, int64_t head_dim, double theta, c10::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const at::Tensor inv_freq =
      1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, options.dtype(torch::kInt64)).to(torch::kFloat32) /
                                  static_cast<double>(head_dim));
  const at::Tensor t = torch::arange(seq_len, options);
  const at::Tensor freqs = torch::outer(t, inv_freq);
  const at::Tensor emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

at::Tensor transformer_block(const ModelSpec& spec, const Weights& w, const ForwardOptions& o,
                             const std::string& prefix, const at::Tensor& h, bool causal,
                             const std::pair<at::Tensor, at::Tensor>* rope) {
  const int64_t b = h.size(0), t = h.size(1);
  const int64_t nh = spec.num_heads, nkv = spec.num_kv_heads, hd = spec.head_dim();

  at::Tensor x = rms_norm(h, weight(w, prefix + ".input_layernorm.weight"), spec.rms_norm_eps);
  at::Tensor q = linear(w, o, prefix + ".self_attn.q_proj", x).view({b, t, nh, hd}).transpose(1, 2);
  at::Tensor k = linear(w, o, prefix + ".self_attn.k_proj", x).view({b, t, nkv, hd}).transpose(1, 2);
  at::Tensor v = linear(w, o, prefix + ".self_attn.v_proj", x).view({b, t, nkv, hd}).transpose(1, 2);
  if (rope != nullptr) {
    const at::Tensor cos = rope->first.slice(0, 0, t), sin = rope->second.slice(0, 0, t);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
  }
  if (nkv != nh) {  // grouped-query attention: each key/value head serves nh / nkv query heads
    k = k.repeat_interleave(nh / nkv, 1);
    v = v.repeat_interleave(nh / nkv, 1);
  }
  at::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
  if (causal) {
    const at::Tensor future = torch::ones({t, t}, scores.options().dtype(torch::kBool)).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  const at::Tensor attn = torch::matmul(torch::softmax(scores, -1), v);
  at::Tensor out = h + linear(w, o, prefix + ".self_attn.o_proj",
                              attn.transpose(1, 2).reshape({b, t, nh * hd}));

  x = rms_norm(out, weight(w, prefix + ".post_attention_layernorm.weight"), spec.rms_norm_eps);
  const at::Tensor gate = torch::silu(linear(w, o, prefix + ".mlp.gate_proj", x));
  const at::Tensor up = linear(w, o, prefix + ".mlp.up_proj", x);
  return out + linear(w, o, prefix + ".mlp.down_proj", gate * up);
}

void block_shapes(const ModelSpec& spec, int layer, std::map<std::string, std::vector<int64_t>>& shapes,
                  std::vector<LinearInfo>* linears) {
  const std::string p = "model.layers." + std::to_string(layer);
  const int64_t hs = spec.hidden_size, kv = spec.num_kv_heads * spec.head_dim(),
                is = spec.intermediate_size;
  auto lin = [&](const std::string& name, int64_t in, int64_t out) {
    shapes[p + name + ".weight"] = {out, in};
    if (linears) linears->push_back({p + name, in, out, layer});
  };
  shapes[p + ".input_layernorm.weight"] = {hs};
  shapes[p + ".post_attention_layernorm.weight"] = {hs};
  lin(".self_attn.q_proj", hs, spec.num_heads * spec.head_dim());
  lin(".self_attn.k_proj", hs, kv);
  lin(".self_attn.v_proj", hs, kv);
  lin(".self_attn.o_proj", spec.num_heads * spec.head_dim(), hs);
  lin(".mlp.gate_proj", hs, is);
  lin(".mlp.up_proj", hs, is);
  lin(".mlp.down_proj", is, hs);
}

double block_flops(const ModelSpec& spec, int64_t t) {
  const double hs = static_cast<double>(spec.hidden_size);
  const double kv = static_cast<double>(spec.num_kv_heads * spec.head_dim());
  const double is = static_cast<double>(spec.intermediate_size);
  const double tt = static_cast<double>(t);
  const double linear_params = hs * hs * 2 + hs * kv * 2 + 3 * hs * is;
  const double attention = 2 * tt * tt * hs * 2;  // scores and the weighted sum
  return 2 * linear_params * tt + attention;
}

}  // namespace lethe::blocks
