// Small model specs shared by the model, LoRA and base-model tests: big enough to exercise
// every path (several heads, several blocks), small enough for float64 gradient checks.
#pragma once

#include "src/models/model_spec.h"

namespace lethe::test {

inline ModelSpec tiny_llama(int64_t layers, int64_t max_seq_len) {
  ModelSpec s;
  s.arch = "llama";
  s.hidden_size = 8;
  s.num_layers = layers;
  s.num_heads = 2;
  s.num_kv_heads = 2;
  s.intermediate_size = 12;
  s.num_labels = 3;
  s.vocab_size = 20;
  s.max_seq_len = max_seq_len;
  return s;
}

inline ModelSpec tiny_vit() {
  ModelSpec s;
  s.arch = "vit";
  s.hidden_size = 16;
  s.num_layers = 2;
  s.num_heads = 2;
  s.num_kv_heads = 2;
  s.intermediate_size = 32;
  s.num_labels = 10;
  s.image_size = 28;
  s.patch_size = 7;
  return s;
}

inline ModelSpec tiny_mlp(int64_t in_features, int64_t labels) {
  ModelSpec s;
  s.arch = "mlp";
  s.hidden_size = 8;
  s.num_layers = 2;
  s.intermediate_size = 16;
  s.num_labels = labels;
  s.in_features = in_features;
  return s;
}

}  // namespace lethe::test
