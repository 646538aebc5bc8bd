#include "src/trainers/import_base.h"

#include <torch/torch.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <cmath>
#include <limits>
#include <regex>
#include <set>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

int64_t dim_of(const Weights& w, const std::string& name, int64_t dim, const fs::path& from) {
  const auto it = w.find(name);
  if (it == w.end()) {
    fail(ErrorKind::kInput, "{}: no tensor '{}', so this is not a checkpoint of the workspace's "
         "architecture", from.string(), name);
  }
  if (it->second.dim() <= dim) fail(ErrorKind::kInput, "{}: tensor '{}' has too few dimensions", from.string(), name);
  return it->second.size(dim);
}

// config.json of a Hugging Face model directory (file empty and json null when there is none).
struct HfConfig {
  fs::path file;
  nlohmann::json json;
};

HfConfig hf_config(const fs::path& checkpoint) {
  const fs::path dir = fs::is_directory(checkpoint) ? checkpoint : checkpoint.parent_path();
  const fs::path file = dir / "config.json";
  if (!fs::exists(file)) return {};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kInput, "{}: not valid JSON: {}", file.string(), e.what());
  }
  if (!j.is_object()) fail(ErrorKind::kInput, "{}: expected a JSON object", file.string());
  return {file, std::move(j)};
}

// A field of config.json that must be a positive integer (head counts: a zero or negative one
// would divide by zero), or `fallback` when absent.
int64_t positive_int(const HfConfig& hf, const char* field, int64_t fallback) {
  constexpr int64_t kMax = int64_t{1} << 20;  // far above any model's head count
  const auto it = hf.json.find(field);
  if (it == hf.json.end()) return fallback;
  // An unsigned value above INT64_MAX reads as negative: refused with the rest.
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMax) {
    fail(ErrorKind::kInput, "{}: field '{}' must be a positive integer, got {}", hf.file.string(), field,
         it->dump());
  }
  return it->get<int64_t>();
}

// A field of config.json that must be a finite number > 0 (norm epsilon, RoPE base).
double positive_number(const HfConfig& hf, const char* field, double fallback) {
  const auto it = hf.json.find(field);
  if (it == hf.json.end()) return fallback;
  if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>())) {
    fail(ErrorKind::kInput, "{}: field '{}' must be a number > 0, got {}", hf.file.string(), field, it->dump());
  }
  return it->get<double>();
}

// The number of transformer blocks the tensor names describe: model.layers.N. must number
// 0..N-1 without gaps, so that one stray name cannot make the model a billion layers deep.
int64_t layer_count(const Weights& w, const fs::path& from) {
  const std::regex layer_re(R"(^model\.layers\.(\d+)\.)");
  std::set<int64_t> seen;
  std::string highest;  // the name with the highest index, for the error
  for (const auto& [name, t] : w) {
    std::smatch m;
    if (!std::regex_search(name, m, layer_re)) continue;
    const std::string digits = m[1];
    // More digits than any real model's layer count: refused before converting.
    const int64_t index = digits.size() > 6 ? std::numeric_limits<int64_t>::max() : std::stoll(digits);
    if (seen.empty() || index > *seen.rbegin()) highest = name;
    seen.insert(index);
  }
  if (!seen.empty() && *seen.rbegin() != static_cast<int64_t>(seen.size()) - 1) {
    fail(ErrorKind::kInput, "{}: layers must be numbered 0..N-1 without gaps, but tensor '{}' is in a "
         "layer past the {} layer(s) the checkpoint has", from.string(), highest, seen.size());
  }
  return static_cast<int64_t>(seen.size());
}

}  // namespace

ImportReport import_base(Workspace& ws, const Config& config, const fs::path& checkpoint,
                         spdlog::logger& log) {
  ImportReport report;
  const DataShape data = workspace_data_shape(ws);
  ModelSpec spec = resolve_model_spec(config.model, data);
  const SafetensorsFile file = read_checkpoint(checkpoint);
  Weights w;
  bool converted = false;
  for (auto& [name, t] : to_tensors(file)) {
    // Buffers some exporters include; they are recomputed, not learned.
    if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
    converted |= t.scalar_type() != torch::kFloat32;
    w[name] = t.to(torch::kFloat32).contiguous();
  }
  if (converted) report.notes.push_back("converted tensors to float32");

  // Sizes from the tensors themselves.
  spec.num_layers = layer_count(w, checkpoint);
  if (spec.arch == "llama") {
    spec.vocab_size = dim_of(w, "model.embed_tokens.weight", 0, checkpoint);
    spec.hidden_size = dim_of(w, "model.embed_tokens.weight", 1, checkpoint);
    spec.intermediate_size = dim_of(w, "model.layers.0.mlp.gate_proj.weight", 0, checkpoint);
    if (data.vocab_size > spec.vocab_size) {
      fail(ErrorKind::kInput, "{}: vocabulary of {} tokens, but the workspace's tokenizer produces up "
           "to {}", checkpoint.string(), spec.vocab_size, data.vocab_size);
    }
    const HfConfig hf = hf_config(checkpoint);
    if (!hf.json.is_null()) {
      spec.num_heads = positive_int(hf, "num_attention_heads", spec.num_heads);
      positive_int(hf, "num_key_value_heads", spec.num_heads);  // checked; the count comes from k_proj
      spec.rms_norm_eps = positive_number(hf, "rms_norm_eps", spec.rms_norm_eps);
      spec.rope_theta = positive_number(hf, "rope_theta", spec.rope_theta);
    }
    if (spec.hidden_size % spec.num_heads != 0 || spec.head_dim() % 2 != 0) {
      fail(ErrorKind::kInput, "{}: hidden size {} is not an even multiple of {} heads (RoPE needs an even head "
           "size; set model.num_heads or put config.json beside the checkpoint)", checkpoint.string(),
           spec.hidden_size, spec.num_heads);
    }
    const int64_t kv_rows = dim_of(w, "model.layers.0.self_attn.k_proj.weight", 0, checkpoint);
    spec.num_kv_heads = kv_rows / spec.head_dim();
    if (kv_rows % spec.head_dim() != 0 || spec.num_kv_heads < 1 || spec.num_heads % spec.num_kv_heads != 0) {
      fail(ErrorKind::kInput, "{}: model.layers.0.self_attn.k_proj.weight has {} rows: not a whole number of "
           "key/value heads of size {} that divides the {} query heads", checkpoint.string(), kv_rows,
           spec.head_dim(), spec.num_heads);
    }
    if (!w.count("lm_head.weight")) {
      w["lm_head.weight"] = w.at("model.embed_tokens.weight").clone();
      report.notes.push_back("lm_head.weight absent (tied embeddings): copied from model.embed_tokens.weight");
    }
  } else if (spec.arch == "vit") {
    spec.hidden_size = dim_of(w, "model.patch_embed.weight", 0, checkpoint);
    spec.intermediate_size = dim_of(w, "model.layers.0.mlp.gate_proj.weight", 0, checkpoint);
  } else {
    spec.hidden_size = dim_of(w, "model.embed.weight", 0, checkpoint);
    spec.intermediate_size = dim_of(w, "model.layers.0.mlp.fc1.weight", 0, checkpoint);
  }
  // A causal-LM checkpoint has no classification head, and another task's head has another
  // label count: a fresh head (seeded) is trained with the adapters anyway. It is made only
  // after every other tensor is proven to fit, so no size is trusted before that.
  const auto score = w.find("score.weight");
  const bool fresh_head = score == w.end() || score->second.dim() != 2 || score->second.size(0) != spec.num_labels;
  if (fresh_head) {
    report.notes.push_back(fmt::format("score.weight {}: initialised a {}-label head",
                                       score == w.end() ? "absent" : "has another shape",
                                       spec.num_labels));
    if (score != w.end()) w.erase(score);
  }

  // Every expected tensor present with its shape, nothing else: one error naming them all.
  const std::vector<std::string> problems = weight_problems(spec, w, fresh_head ? "score.weight" : "");
  if (!problems.empty()) {
    const size_t shown = std::min<size_t>(problems.size(), 10);
    fail(ErrorKind::kInput, "{} does not match a {} model of the workspace's shape: {}{}",
         checkpoint.string(), spec.arch,
         fmt::join(problems.begin(), problems.begin() + static_cast<long>(shown), "; "),
         problems.size() > shown ? fmt::format("; and {} more", problems.size() - shown) : "");
  }
  if (fresh_head) w["score.weight"] = init_weight(spec, "score.weight", static_cast<uint64_t>(config.pretrain.seed));
  for (const auto& note : report.notes) log.info("{}", note);

  BaseProvenance prov;
  prov.source = "import";
  prov.imported_from = fs::absolute(checkpoint).string();
  report.base = store_base(ws, spec, w, prov);
  return report;
}

}  // namespace lethe
