// The resolved shape of a model: everything needed to build its weights and run it. A
// ModelSpec is derived from the [model] config and the workspace's data (payload kind, vocab,
// label count), stored beside the base weights, and checked against any imported checkpoint.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "src/config/config.h"

namespace lethe {

class WordPiece;  // src/data/wordpiece.h

struct ModelSpec {
  std::string arch;  // llama | bert | vit | mlp (bert only from an imported checkpoint)
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // llama: grouped-query attention when < num_heads
  int64_t intermediate_size = 0;
  int64_t num_labels = 0;
  double rms_norm_eps = 1e-6;
  // llama
  int64_t vocab_size = 0;
  int64_t max_seq_len = 0;
  double rope_theta = 10000.0;
  // vit
  int64_t image_size = 0;  // square images, side in pixels
  int64_t patch_size = 0;
  // mlp
  int64_t in_features = 0;
  // bert (Hugging Face's BertModel): texts are cut to max_seq_len tokens, [CLS] and [SEP]
  // included; the sentence is the mean of its tokens' last hidden states or the [CLS] one.
  int64_t max_positions = 0;    // rows of embeddings.position_embeddings
  int64_t type_vocab_size = 0;  // rows of embeddings.token_type_embeddings (type 0 is used)
  double layer_norm_eps = 1e-12;
  std::string pooling;          // mean | cls
  // The checkpoint's own tokenizer (bert): part of the model, stored in the base's file and
  // checked by its hash, not part of the JSON (spec_to_json) nor of equality.
  std::shared_ptr<const WordPiece> tokenizer;

  int64_t head_dim() const { return num_heads > 0 ? hidden_size / num_heads : 0; }
  bool operator==(const ModelSpec& o) const;
};

// What the workspace's data says about the inputs.
struct DataShape {
  std::string payload_kind;  // text | image | features
  int64_t vocab_size = 0;    // text: 256 for byte-level, the SentencePiece vocabulary otherwise
  int64_t image_size = 0;    // image: side in pixels
  int64_t in_features = 0;   // features: vector length
  int64_t num_labels = 0;
};

// Applies the preset, then the non-zero overrides of `config`; checks that the sizes fit
// together (hidden divisible by heads, image by patch...). ErrorKind::kUsage naming the key.
ModelSpec resolve_model_spec(const ModelConfig& config, const DataShape& data);

nlohmann::json spec_to_json(const ModelSpec& spec);
ModelSpec spec_from_json(const nlohmann::json& j);  // ErrorKind::kIntegrity when malformed

}  // namespace lethe
