#include "src/models/model_spec.h"

#include <nlohmann/json.hpp>

#include "src/common/error.h"

namespace lethe {

namespace {

// Preset sizes per architecture: tiny runs the demo in minutes on 2 cores; small is the
// benchmark size (hidden 512, as in issue 4's throughput target).
void apply_preset(const std::string& preset, ModelSpec& s) {
  const bool small = preset == "small";
  if (s.arch == "mlp") {
    s.hidden_size = small ? 512 : 128;
    s.num_layers = small ? 8 : 4;
    s.intermediate_size = small ? 1024 : 256;
    s.num_heads = 1;  // unused
  } else {
    s.hidden_size = small ? 512 : 64;
    s.num_layers = small ? 8 : 4;
    s.num_heads = small ? 8 : 4;
    s.intermediate_size = small ? 1376 : 176;
    s.max_seq_len = s.arch == "llama" ? (small ? 256 : 128) : 0;
    s.patch_size = s.arch == "vit" ? 7 : 0;
  }
}

}  // namespace

bool ModelSpec::operator==(const ModelSpec& o) const { return spec_to_json(*this) == spec_to_json(o); }

ModelSpec resolve_model_spec(const ModelConfig& config, const DataShape& data) {
  ModelSpec s;
  s.arch = config.arch;
  if (s.arch == "auto") {
    if (data.payload_kind == "text") s.arch = "llama";  // bert: chosen by import-base from the checkpoint
    else if (data.payload_kind == "image") s.arch = "vit";
    else if (data.payload_kind == "features") s.arch = "mlp";
    else fail(ErrorKind::kUsage, "model.arch = \"auto\" needs ingested data to choose from; ingest first or set model.arch");
  }
  const char* needs = s.arch == "llama" || s.arch == "bert" ? "text" : s.arch == "vit" ? "image" : "features";
  if (!data.payload_kind.empty() && data.payload_kind != needs) {
    fail(ErrorKind::kUsage, "model.arch = \"{}\" needs {} records, but the workspace holds {}",
         s.arch, needs, data.payload_kind);
  }
  apply_preset(config.preset, s);
  auto override_with = [](int64_t value, int64_t& field) {
    if (value > 0) field = value;
  };
  override_with(config.hidden_size, s.hidden_size);
  override_with(config.num_layers, s.num_layers);
  override_with(config.num_heads, s.num_heads);
  override_with(config.intermediate_size, s.intermediate_size);
  if (s.arch == "bert") s.max_seq_len = config.preset == "small" ? 256 : 128;
  if (s.arch == "llama" || s.arch == "bert") override_with(config.max_seq_len, s.max_seq_len);
  if (s.arch == "vit") override_with(config.patch_size, s.patch_size);
  s.num_kv_heads = s.num_heads;
  s.num_labels = data.num_labels;
  s.vocab_size = s.arch == "llama" ? data.vocab_size : 0;
  s.image_size = s.arch == "vit" ? data.image_size : 0;
  s.in_features = s.arch == "mlp" ? data.in_features : 0;

  if (s.arch != "mlp" && s.hidden_size % s.num_heads != 0) {
    fail(ErrorKind::kUsage, "model.hidden_size ({}) must be a multiple of model.num_heads ({})",
         s.hidden_size, s.num_heads);
  }
  if (s.arch != "mlp" && s.head_dim() % 2 != 0 && s.arch == "llama") {
    fail(ErrorKind::kUsage, "model.hidden_size / model.num_heads must be even for RoPE, got {}",
         s.head_dim());
  }
  if (s.arch == "vit" && s.image_size > 0 && s.image_size % s.patch_size != 0) {
    fail(ErrorKind::kUsage, "model.patch_size ({}) must divide the image side ({})",
         s.patch_size, s.image_size);
  }
  return s;
}

nlohmann::json spec_to_json(const ModelSpec& s) {
  nlohmann::json j = {{"arch", s.arch},
          {"hidden_size", s.hidden_size},
          {"num_layers", s.num_layers},
          {"num_heads", s.num_heads},
          {"num_kv_heads", s.num_kv_heads},
          {"intermediate_size", s.intermediate_size},
          {"num_labels", s.num_labels},
          {"rms_norm_eps", s.rms_norm_eps},
          {"vocab_size", s.vocab_size},
          {"max_seq_len", s.max_seq_len},
          {"rope_theta", s.rope_theta},
          {"image_size", s.image_size},
          {"patch_size", s.patch_size},
          {"in_features", s.in_features}};
  if (s.arch == "bert") {  // only bert's: the other architectures' stored specs keep their bytes
    j["max_positions"] = s.max_positions;
    j["type_vocab_size"] = s.type_vocab_size;
    j["layer_norm_eps"] = s.layer_norm_eps;
    j["pooling"] = s.pooling;
  }
  return j;
}

ModelSpec spec_from_json(const nlohmann::json& j) {
  ModelSpec s;
  try {
    s.arch = j.at("arch").get<std::string>();
    s.hidden_size = j.at("hidden_size").get<int64_t>();
    s.num_layers = j.at("num_layers").get<int64_t>();
    s.num_heads = j.at("num_heads").get<int64_t>();
    s.num_kv_heads = j.at("num_kv_heads").get<int64_t>();
    s.intermediate_size = j.at("intermediate_size").get<int64_t>();
    s.num_labels = j.at("num_labels").get<int64_t>();
    s.rms_norm_eps = j.at("rms_norm_eps").get<double>();
    s.vocab_size = j.at("vocab_size").get<int64_t>();
    s.max_seq_len = j.at("max_seq_len").get<int64_t>();
    s.rope_theta = j.at("rope_theta").get<double>();
    s.image_size = j.at("image_size").get<int64_t>();
    s.patch_size = j.at("patch_size").get<int64_t>();
    s.in_features = j.at("in_features").get<int64_t>();
    if (s.arch == "bert") {
      s.max_positions = j.at("max_positions").get<int64_t>();
      s.type_vocab_size = j.at("type_vocab_size").get<int64_t>();
      s.layer_norm_eps = j.at("layer_norm_eps").get<double>();
      s.pooling = j.at("pooling").get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kIntegrity, "malformed model spec: {}", e.what());
  }
  return s;
}

}  // namespace lethe
