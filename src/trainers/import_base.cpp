#include "src/trainers/import_base.h"

#include <torch/torch.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <regex>

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

// config.json of a Hugging Face model directory, or null.
nlohmann::json hf_config(const fs::path& checkpoint) {
  const fs::path dir = fs::is_directory(checkpoint) ? checkpoint : checkpoint.parent_path();
  const fs::path file = dir / "config.json";
  if (!fs::exists(file)) return nullptr;
  try {
    return nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kInput, "{}: not valid JSON: {}", file.string(), e.what());
  }
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
  int64_t layers = 0;
  const std::regex layer_re(R"(^model\.layers\.(\d+)\.)");
  for (const auto& [name, t] : w) {
    std::smatch m;
    if (std::regex_search(name, m, layer_re)) layers = std::max<int64_t>(layers, std::stoll(m[1]) + 1);
  }
  spec.num_layers = layers;
  if (spec.arch == "llama") {
    spec.vocab_size = dim_of(w, "model.embed_tokens.weight", 0, checkpoint);
    spec.hidden_size = dim_of(w, "model.embed_tokens.weight", 1, checkpoint);
    spec.intermediate_size = dim_of(w, "model.layers.0.mlp.gate_proj.weight", 0, checkpoint);
    if (data.vocab_size > spec.vocab_size) {
      fail(ErrorKind::kInput, "{}: vocabulary of {} tokens, but the workspace's tokenizer produces up "
           "to {}", checkpoint.string(), spec.vocab_size, data.vocab_size);
    }
    const nlohmann::json hf = hf_config(checkpoint);
    if (!hf.is_null()) {
      spec.num_heads = hf.value("num_attention_heads", spec.num_heads);
      spec.num_kv_heads = hf.value("num_key_value_heads", spec.num_heads);
      spec.rms_norm_eps = hf.value("rms_norm_eps", spec.rms_norm_eps);
      spec.rope_theta = hf.value("rope_theta", spec.rope_theta);
    } else {
      spec.num_kv_heads = spec.num_heads;
    }
    if (spec.hidden_size % spec.num_heads != 0) {
      fail(ErrorKind::kInput, "{}: hidden size {} is not a multiple of {} heads (set model.num_heads or "
           "put config.json beside the checkpoint)", checkpoint.string(), spec.hidden_size, spec.num_heads);
    }
    spec.num_kv_heads = dim_of(w, "model.layers.0.self_attn.k_proj.weight", 0, checkpoint) / spec.head_dim();
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
  // label count: a fresh head (seeded like pretrain's) is trained with the adapters anyway.
  const auto score = w.find("score.weight");
  if (score == w.end() || score->second.size(0) != spec.num_labels) {
    const Weights fresh = init_weights(spec, static_cast<uint64_t>(config.pretrain.seed));
    w["score.weight"] = fresh.at("score.weight");
    report.notes.push_back(fmt::format("score.weight {}: initialised a {}-label head",
                                       score == w.end() ? "absent" : "has another label count",
                                       spec.num_labels));
  }

  // Every expected tensor present with its shape, nothing else: one error naming them all.
  const std::vector<std::string> problems = weight_problems(spec, w);
  if (!problems.empty()) {
    const size_t shown = std::min<size_t>(problems.size(), 10);
    fail(ErrorKind::kInput, "{} does not match a {} model of the workspace's shape: {}{}",
         checkpoint.string(), spec.arch,
         fmt::join(problems.begin(), problems.begin() + static_cast<long>(shown), "; "),
         problems.size() > shown ? fmt::format("; and {} more", problems.size() - shown) : "");
  }
  for (const auto& note : report.notes) log.info("{}", note);

  BaseProvenance prov;
  prov.source = "import";
  prov.imported_from = fs::absolute(checkpoint).string();
  report.base = store_base(ws, spec, w, prov);
  return report;
}

}  // namespace lethe
