#include "src/models/bert.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "src/common/error.h"
#include "src/models/blocks.h"

namespace lethe::bert {

namespace {

const at::Tensor& weight(const Weights& w, const std::string& name) {
  const auto it = w.find(name);
  if (it == w.end()) fail(ErrorKind::kInternal, "model weight '{}' is missing", name);
  return it->second;
}

at::Tensor layer_norm(const ModelSpec& s, const Weights& w, const std::string& name, const at::Tensor& x) {
  return torch::layer_norm(x, {s.hidden_size}, weight(w, name + ".weight"), weight(w, name + ".bias"),
                           s.layer_norm_eps);
}

// One post-LayerNorm block: h = LN(h + attention(h)); h = LN(h + W2 gelu(W1 h)).
at::Tensor block(const ModelSpec& s, const Weights& w, const ForwardOptions& o, const std::string& p,
                 const at::Tensor& h, const at::Tensor& padding) {
  const int64_t b = h.size(0), t = h.size(1), nh = s.num_heads, hd = s.head_dim();
  auto heads = [&](const std::string& name) {
    return blocks::linear(w, o, p + ".attention.self." + name, h).view({b, t, nh, hd}).transpose(1, 2);
  };
  const at::Tensor q = heads("query"), k = heads("key"), v = heads("value");
  at::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
  scores = scores.masked_fill(padding, -std::numeric_limits<float>::infinity());
  const at::Tensor context = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({b, t, nh * hd});
  const at::Tensor a = layer_norm(s, w, p + ".attention.output.LayerNorm",
                                  h + blocks::linear(w, o, p + ".attention.output.dense", context));
  const at::Tensor inner = torch::gelu(blocks::linear(w, o, p + ".intermediate.dense", a));
  return layer_norm(s, w, p + ".output.LayerNorm", a + blocks::linear(w, o, p + ".output.dense", inner));
}

}  // namespace

void add_shapes(const ModelSpec& s, std::map<std::string, std::vector<int64_t>>& shapes,
                std::vector<LinearInfo>* linears) {
  const int64_t hs = s.hidden_size, is = s.intermediate_size;
  shapes["embeddings.word_embeddings.weight"] = {s.vocab_size, hs};
  shapes["embeddings.position_embeddings.weight"] = {s.max_positions, hs};
  shapes["embeddings.token_type_embeddings.weight"] = {s.type_vocab_size, hs};
  shapes["embeddings.LayerNorm.weight"] = {hs};
  shapes["embeddings.LayerNorm.bias"] = {hs};
  for (int layer = 0; layer < s.num_layers; ++layer) {
    const std::string p = "encoder.layer." + std::to_string(layer);
    auto lin = [&](const std::string& name, int64_t in, int64_t out) {
      shapes[p + name + ".weight"] = {out, in};
      shapes[p + name + ".bias"] = {out};
      if (linears) linears->push_back({p + name, in, out, layer});
    };
    auto norm = [&](const std::string& name) {
      shapes[p + name + ".weight"] = {hs};
      shapes[p + name + ".bias"] = {hs};
    };
    lin(".attention.self.query", hs, hs);
    lin(".attention.self.key", hs, hs);
    lin(".attention.self.value", hs, hs);
    lin(".attention.output.dense", hs, hs);
    norm(".attention.output.LayerNorm");
    lin(".intermediate.dense", hs, is);
    lin(".output.dense", is, hs);
    norm(".output.LayerNorm");
  }
}

at::Tensor trunk(const ModelSpec& s, const Weights& w, const ModelInput& in, const ForwardOptions& o) {
  if (!in.tokens.defined() || in.tokens.dim() != 2) fail(ErrorKind::kInternal, "bert needs tokens [B, T]");
  const int64_t t = in.tokens.size(1);
  if (t > s.max_positions) fail(ErrorKind::kInternal, "bert input of {} tokens past {} positions", t, s.max_positions);
  at::Tensor h = torch::embedding(weight(w, "embeddings.word_embeddings.weight"), in.tokens) +
                 weight(w, "embeddings.position_embeddings.weight").slice(0, 0, t) +
                 weight(w, "embeddings.token_type_embeddings.weight")[0];
  h = layer_norm(s, w, "embeddings.LayerNorm", h);
  // Keys past a row's length are padding: no query attends to them.
  const at::Tensor padding =
      (torch::arange(t, in.lengths.options()).unsqueeze(0) >= in.lengths.unsqueeze(1)).view({h.size(0), 1, 1, t});
  for (int layer = 0; layer < s.num_layers; ++layer) {
    h = block(s, w, o, "encoder.layer." + std::to_string(layer), h, padding);
  }
  return h;
}

at::Tensor pool(const ModelSpec& s, const at::Tensor& hidden, const at::Tensor& lengths) {
  if (s.pooling == "cls") return hidden.select(1, 0);
  // sentence-transformers' mean pooling: real tokens only ([CLS] and [SEP] included).
  const int64_t t = hidden.size(1);
  const at::Tensor real = (torch::arange(t, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1)).to(hidden.scalar_type());
  return (hidden * real.unsqueeze(-1)).sum(1) / real.sum(1, true).clamp_min(1e-9);
}

double flops(const ModelSpec& s, int64_t t) {
  const double hs = static_cast<double>(s.hidden_size), is = static_cast<double>(s.intermediate_size);
  const double tt = static_cast<double>(t);
  const double per_layer = 2 * (4 * hs * hs + 2 * hs * is) * tt + 2 * tt * tt * hs * 2;
  return per_layer * static_cast<double>(s.num_layers);
}

}  // namespace lethe::bert
