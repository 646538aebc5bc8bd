// Shapes, initialisation and forward passes of the three architectures.
#include "src/models/model.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "src/common/error.h"
#include "src/models/bert.h"
#include "src/models/blocks.h"

namespace lethe {

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t num_patches(const ModelSpec& s) {
  const int64_t side = s.image_size / s.patch_size;
  return side * side;
}

// MLP block names: model.layers.N.norm, model.layers.N.mlp.fc1 / fc2 (with biases).
void mlp_block_shapes(const ModelSpec& s, int layer, Shapes& shapes, std::vector<LinearInfo>* linears) {
  const std::string p = "model.layers." + std::to_string(layer);
  shapes[p + ".norm.weight"] = {s.hidden_size};
  shapes[p + ".mlp.fc1.weight"] = {s.intermediate_size, s.hidden_size};
  shapes[p + ".mlp.fc1.bias"] = {s.intermediate_size};
  shapes[p + ".mlp.fc2.weight"] = {s.hidden_size, s.intermediate_size};
  shapes[p + ".mlp.fc2.bias"] = {s.hidden_size};
  if (linears) {
    linears->push_back({p + ".mlp.fc1", s.hidden_size, s.intermediate_size, layer});
    linears->push_back({p + ".mlp.fc2", s.intermediate_size, s.hidden_size, layer});
  }
}

Shapes shapes_and_linears(const ModelSpec& s, std::vector<LinearInfo>* linears) {
  Shapes shapes;
  const int64_t hs = s.hidden_size;
  if (s.arch == "bert") {  // post-LayerNorm blocks: no final norm
    bert::add_shapes(s, shapes, linears);
    shapes["score.weight"] = {s.num_labels, hs};
    if (linears) {
      linears->push_back({"score", hs, s.num_labels, -1});
      std::sort(linears->begin(), linears->end(),
                [](const LinearInfo& a, const LinearInfo& b) { return a.name < b.name; });
    }
    return shapes;
  }
  for (int layer = 0; layer < s.num_layers; ++layer) {
    if (s.arch == "mlp") mlp_block_shapes(s, layer, shapes, linears);
    else blocks::block_shapes(s, layer, shapes, linears);
  }
  shapes["model.norm.weight"] = {hs};
  shapes["score.weight"] = {s.num_labels, hs};
  if (linears) linears->push_back({"score", hs, s.num_labels, -1});
  if (s.arch == "llama") {
    shapes["model.embed_tokens.weight"] = {s.vocab_size, hs};
    shapes["lm_head.weight"] = {s.vocab_size, hs};
    if (linears) linears->push_back({"lm_head", hs, s.vocab_size, -1});
  } else if (s.arch == "vit") {
    shapes["model.patch_embed.weight"] = {hs, s.patch_size * s.patch_size};
    shapes["model.patch_embed.bias"] = {hs};
    shapes["model.pos_embed"] = {num_patches(s), hs};
    if (linears) linears->push_back({"model.patch_embed", s.patch_size * s.patch_size, hs, -1});
  } else if (s.arch == "mlp") {
    shapes["model.embed.weight"] = {hs, s.in_features};
    shapes["model.embed.bias"] = {hs};
    if (linears) linears->push_back({"model.embed", s.in_features, hs, -1});
  } else {
    fail(ErrorKind::kInternal, "unknown architecture '{}'", s.arch);
  }
  if (linears) {
    std::sort(linears->begin(), linears->end(),
              [](const LinearInfo& a, const LinearInfo& b) { return a.name < b.name; });
  }
  return shapes;
}

at::Tensor llama_trunk(const ModelSpec& s, const Weights& w, const ModelInput& in,
                       const ForwardOptions& o) {
  if (!in.tokens.defined() || in.tokens.dim() != 2) fail(ErrorKind::kInternal, "llama needs tokens [B, T]");
  at::Tensor h = torch::embedding(w.at("model.embed_tokens.weight"), in.tokens);
  const auto rope = blocks::rope_tables(in.tokens.size(1), s.head_dim(), s.rope_theta, in.tokens.device());
  for (int layer = 0; layer < s.num_layers; ++layer) {
    h = blocks::transformer_block(s, w, o, "model.layers." + std::to_string(layer), h, true, &rope);
  }
  return blocks::rms_norm(h, w.at("model.norm.weight"), s.rms_norm_eps);
}

at::Tensor vit_trunk(const ModelSpec& s, const Weights& w, const ModelInput& in,
                     const ForwardOptions& o) {
  if (!in.images.defined() || in.images.dim() != 3) fail(ErrorKind::kInternal, "vit needs images [B, S, S]");
  const int64_t b = in.images.size(0), p = s.patch_size, side = s.image_size / p;
  const at::Tensor patches = in.images.reshape({b, side, p, side, p})
                                 .permute({0, 1, 3, 2, 4})
                                 .reshape({b, side * side, p * p});
  at::Tensor h = blocks::linear(w, o, "model.patch_embed", patches) + w.at("model.pos_embed");
  for (int layer = 0; layer < s.num_layers; ++layer) {
    h = blocks::transformer_block(s, w, o, "model.layers." + std::to_string(layer), h, false, nullptr);
  }
  return blocks::rms_norm(h, w.at("model.norm.weight"), s.rms_norm_eps).mean(1);
}

at::Tensor mlp_trunk(const ModelSpec& s, const Weights& w, const ModelInput& in,
                     const ForwardOptions& o) {
  if (!in.features.defined() || in.features.dim() != 2) fail(ErrorKind::kInternal, "mlp needs features [B, F]");
  at::Tensor h = blocks::linear(w, o, "model.embed", in.features);
  for (int layer = 0; layer < s.num_layers; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer);
    const at::Tensor x = blocks::rms_norm(h, w.at(p + ".norm.weight"), s.rms_norm_eps);
    h = h + blocks::linear(w, o, p + ".mlp.fc2", torch::gelu(blocks::linear(w, o, p + ".mlp.fc1", x)));
  }
  return blocks::rms_norm(h, w.at("model.norm.weight"), s.rms_norm_eps);
}

// Initialised as Hugging Face does: normal(0, 0.02) for Linear and embeddings, ones for norms,
// zeros for biases.
at::Tensor fresh_weight(const std::string& name, const std::vector<int64_t>& shape, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  if (ends_with(name, "norm.weight") || ends_with(name, "LayerNorm.weight")) return torch::ones(shape);
  if (ends_with(name, ".bias")) return torch::zeros(shape);
  return torch::empty(shape).normal_(0.0, 0.02, gen);
}

}  // namespace

std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelSpec& spec) {
  return shapes_and_linears(spec, nullptr);
}

std::vector<std::string> weight_problems(const ModelSpec& spec, const Weights& weights,
                                         const std::string& filled_later) {
  const Shapes expected = expected_shapes(spec);
  std::vector<std::string> problems;
  for (const auto& [name, shape] : expected) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      if (name != filled_later) problems.push_back("missing '" + name + "'");
    } else if (it->second.sizes().vec() != shape) {
      problems.push_back(fmt::format("'{}' is {} but should be {}", name,
                                     fmt::join(it->second.sizes().vec(), "x"), fmt::join(shape, "x")));
    }
  }
  for (const auto& [name, t] : weights) {
    if (!expected.count(name)) problems.push_back("unexpected '" + name + "'");
  }
  return problems;
}

std::vector<LinearInfo> linear_layers(const ModelSpec& spec) {
  std::vector<LinearInfo> linears;
  shapes_and_linears(spec, &linears);
  return linears;
}

Weights init_weights(const ModelSpec& spec, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Weights w;
  for (const auto& [name, shape] : expected_shapes(spec)) w[name] = fresh_weight(name, shape, gen);
  return w;
}

at::Tensor init_weight(const ModelSpec& spec, const std::string& name, uint64_t seed) {
  const Shapes shapes = expected_shapes(spec);
  const auto it = shapes.find(name);
  if (it == shapes.end()) fail(ErrorKind::kInternal, "a {} model has no weight '{}'", spec.arch, name);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return fresh_weight(name, it->second, gen);
}

ModelOutput forward(const ModelSpec& spec, const Weights& w, const ModelInput& in,
                    const ForwardOptions& o) {
  ModelOutput out;
  if (spec.arch == "llama") {
    const at::Tensor h = llama_trunk(spec, w, in, o);
    // Last-token pooling: with causal attention and right padding, the hidden state at the
    // last real token never saw the padding.
    const at::Tensor last = (in.lengths - 1).clamp_min(0);
    out.hidden = h;
    out.pooled = h.index({torch::arange(h.size(0), last.options()), last});
    if (o.want_lm) out.lm_logits = blocks::linear(w, o, "lm_head", h);
  } else if (spec.arch == "bert") {
    out.hidden = bert::trunk(spec, w, in, o);
    out.pooled = bert::pool(spec, out.hidden, in.lengths);
  } else if (spec.arch == "vit") {
    out.pooled = vit_trunk(spec, w, in, o);
  } else if (spec.arch == "mlp") {
    out.pooled = mlp_trunk(spec, w, in, o);
  } else {
    fail(ErrorKind::kInternal, "unknown architecture '{}'", spec.arch);
  }
  out.logits = blocks::linear(w, o, "score", out.pooled);
  return out;
}

double forward_flops_per_example(const ModelSpec& s) {
  if (s.arch == "bert") return bert::flops(s, s.max_seq_len) + 2.0 * s.hidden_size * s.num_labels;
  const int64_t t = s.arch == "llama" ? s.max_seq_len : s.arch == "vit" ? num_patches(s) : 1;
  double flops = 0;
  for (int layer = 0; layer < s.num_layers; ++layer) {
    flops += s.arch == "mlp" ? 2.0 * 2 * s.hidden_size * s.intermediate_size : blocks::block_flops(s, t);
  }
  return flops + 2.0 * s.hidden_size * s.num_labels;
}

}  // namespace lethe
