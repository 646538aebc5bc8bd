// A BERT-family encoder with Hugging Face BertModel's structure and parameter names
// (embeddings.*, encoder.layer.N.attention.self.query, ...), so that checkpoints such as
// sentence-transformers' all-MiniLM-L6-v2 load without renaming: word, absolute position and
// token-type embeddings under a LayerNorm, then post-LayerNorm blocks (attention with a padding
// mask, GELU feed-forward), pooled by the mean over real tokens or the [CLS] state. Dropout is
// never applied: the base is frozen and evaluated as Hugging Face does in eval mode.
// Internal to src/models (model.cpp dispatches here).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "src/models/model.h"

namespace lethe::bert {

// The encoder's weight shapes (without the classification head), its Linear layers added to
// `linears`.
void add_shapes(const ModelSpec& spec, std::map<std::string, std::vector<int64_t>>& shapes,
                std::vector<LinearInfo>* linears);

// Last hidden states [B, T, H] for right-padded tokens [B, T] with `lengths` real tokens each.
at::Tensor trunk(const ModelSpec& spec, const Weights& w, const ModelInput& in, const ForwardOptions& o);

// The sentence vectors [B, H] of trunk's output, as spec.pooling says.
at::Tensor pool(const ModelSpec& spec, const at::Tensor& hidden, const at::Tensor& lengths);

// Forward FLOPs of one example of `t` tokens, without the head.
double flops(const ModelSpec& spec, int64_t t);

}  // namespace lethe::bert
