#include "src/trainers/import_base.h"

#include <torch/torch.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <regex>
#include <set>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/common/json_input.h"
#include "peft/lora.h"
#include "src/data/wordpiece.h"
#include "src/trainers/workspace_data.h"
#include "src/workspace/tokenizer_store.h"

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

// Far above any model's config.json, modules.json or pooling config.
constexpr uintmax_t kMaxJsonBytes = 16u << 20;

// config.json of a Hugging Face model directory (file empty and json null when there is none).
struct HfConfig {
  fs::path file;
  nlohmann::json json;
};

HfConfig hf_config(const fs::path& checkpoint) {
  const fs::path dir = fs::is_directory(checkpoint) ? checkpoint : checkpoint.parent_path();
  const fs::path file = dir / "config.json";
  if (!fs::exists(file)) return {};
  nlohmann::json j = read_json_input(file, kMaxJsonBytes);
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
int64_t layer_count(const Weights& w, const fs::path& from, const std::string& prefix) {
  const std::regex layer_re("^" + std::regex_replace(prefix, std::regex(R"(\.)"), R"(\.)") + R"((\d+)\.)");
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

// A size config.json states must be the one the tensors have: a config that disagrees with its
// weights is refused rather than half believed.
void check_agrees(const HfConfig& hf, const char* field, int64_t actual, const std::string& tensor) {
  if (hf.json.is_null() || !hf.json.contains(field)) return;
  const int64_t stated = positive_int(hf, field, actual);
  if (stated != actual) {
    fail(ErrorKind::kInput, "{}: {} is {}, but the checkpoint's {} says {}", hf.file.string(), field, stated,
         tensor, actual);
  }
}

bool is_bert(const HfConfig& hf, const Weights& w) {
  if (!hf.json.is_null() && hf.json.contains("model_type")) return hf.json["model_type"] == "bert";
  return w.count("embeddings.word_embeddings.weight") > 0;
}

// BertFor* checkpoints keep the encoder under "bert."; their task heads, the pooler (Lethe
// pools itself) and the position_ids buffer are not the encoder's weights.
void keep_encoder_weights(Weights& w, std::vector<std::string>& notes) {
  Weights kept;
  std::set<std::string> dropped;
  for (auto& [name, t] : w) {
    std::string n = name.rfind("bert.", 0) == 0 ? name.substr(5) : name;
    // Older BERT checkpoints (bert-base-uncased) name LayerNorm parameters as TensorFlow did;
    // transformers renames them on load, and so does this.
    for (const auto& [old_suffix, new_suffix] : {std::pair{".LayerNorm.gamma", ".LayerNorm.weight"},
                                                 std::pair{".LayerNorm.beta", ".LayerNorm.bias"}}) {
      if (n.ends_with(old_suffix)) n = n.substr(0, n.size() - std::strlen(old_suffix)) + new_suffix;
    }
    if (n.rfind("pooler.", 0) == 0 || n.rfind("classifier.", 0) == 0 ||
        n.rfind("cls.", 0) == 0) {
      dropped.insert(n.substr(0, n.find('.')));
      continue;
    }
    kept[n] = t;
  }
  w.swap(kept);
  for (const auto& d : dropped) notes.push_back(fmt::format("{}.* not used (Lethe pools and classifies itself)", d));
}

// sentence-transformers' pooling (modules.json -> its Pooling module's config.json): mean or
// [CLS]; without one, [CLS], as BERT's own classification does.
std::string pooling_of(const fs::path& dir) {
  const fs::path modules = dir / "modules.json";
  if (!fs::exists(modules)) return "cls";
  const nlohmann::json m = read_json_input(modules, kMaxJsonBytes);
  if (!m.is_array()) fail(ErrorKind::kInput, "{}: expected a list of modules", modules.string());
  for (const auto& mod : m) {
    if (!mod.is_object() || json_string(mod, "type", modules.string(), "") != "sentence_transformers.models.Pooling") continue;
    const std::string sub = json_string(mod, "path", modules.string(), "");
    std::error_code ec;
    if (sub.empty() || sub.find("..") != std::string::npos || sub.front() == '/' || !fs::is_directory(dir / sub, ec)) {
      fail(ErrorKind::kInput, "{}: the Pooling module's path '{}' is not a folder of the model", modules.string(), sub);
    }
    const HfConfig pc = hf_config(dir / sub);
    if (pc.json.is_null()) fail(ErrorKind::kInput, "{}: missing (named by {})", (dir / sub / "config.json").string(), modules.string());
    const bool mean = json_bool(pc.json, "pooling_mode_mean_tokens", pc.file.string(), false),
               cls = json_bool(pc.json, "pooling_mode_cls_token", pc.file.string(), false);
    if (mean == cls || json_bool(pc.json, "pooling_mode_max_tokens", pc.file.string(), false) ||
        json_bool(pc.json, "pooling_mode_mean_sqrt_len_tokens", pc.file.string(), false)) {
      fail(ErrorKind::kInput, "{}: only one of pooling_mode_mean_tokens and pooling_mode_cls_token is supported",
           pc.file.string());
    }
    return mean ? "mean" : "cls";
  }
  return "cls";
}

// A BERT-family encoder: sizes from the tensors, checked against config.json (which must say
// how many heads there are), the tokenizer and pooling from the model's directory.
void size_bert(ModelSpec& spec, Weights& w, const fs::path& checkpoint, const HfConfig& hf,
               std::vector<std::string>& notes) {
  if (hf.json.is_null()) {
    fail(ErrorKind::kInput, "{}: no config.json beside the checkpoint; a BERT model needs it for its head count",
         checkpoint.string());
  }
  const std::string act = json_string(hf.json, "hidden_act", hf.file.string(), "gelu");
  if (act != "gelu") fail(ErrorKind::kInput, "{}: hidden_act '{}' (only gelu is supported)", hf.file.string(), act);
  const std::string pos = json_string(hf.json, "position_embedding_type", hf.file.string(), "absolute");
  if (pos != "absolute") {
    fail(ErrorKind::kInput, "{}: position_embedding_type '{}' (only absolute is supported)", hf.file.string(), pos);
  }
  spec.num_layers = layer_count(w, checkpoint, "encoder.layer.");
  spec.vocab_size = dim_of(w, "embeddings.word_embeddings.weight", 0, checkpoint);
  spec.hidden_size = dim_of(w, "embeddings.word_embeddings.weight", 1, checkpoint);
  spec.max_positions = dim_of(w, "embeddings.position_embeddings.weight", 0, checkpoint);
  spec.type_vocab_size = dim_of(w, "embeddings.token_type_embeddings.weight", 0, checkpoint);
  spec.intermediate_size = dim_of(w, "encoder.layer.0.intermediate.dense.weight", 0, checkpoint);
  check_agrees(hf, "num_hidden_layers", spec.num_layers, "count of encoder.layer.N blocks");
  check_agrees(hf, "vocab_size", spec.vocab_size, "embeddings.word_embeddings.weight");
  check_agrees(hf, "hidden_size", spec.hidden_size, "embeddings.word_embeddings.weight");
  check_agrees(hf, "max_position_embeddings", spec.max_positions, "embeddings.position_embeddings.weight");
  check_agrees(hf, "type_vocab_size", spec.type_vocab_size, "embeddings.token_type_embeddings.weight");
  check_agrees(hf, "intermediate_size", spec.intermediate_size, "encoder.layer.0.intermediate.dense.weight");
  if (!hf.json.contains("num_attention_heads")) fail(ErrorKind::kInput, "{}: no field 'num_attention_heads'", hf.file.string());
  spec.num_heads = positive_int(hf, "num_attention_heads", 0);
  spec.num_kv_heads = spec.num_heads;
  if (spec.hidden_size % spec.num_heads != 0) {
    fail(ErrorKind::kInput, "{}: hidden size {} is not a multiple of {} heads", hf.file.string(), spec.hidden_size,
         spec.num_heads);
  }
  spec.layer_norm_eps = positive_number(hf, "layer_norm_eps", 1e-12);
  const fs::path dir = hf.file.parent_path();
  spec.pooling = pooling_of(dir);
  // The longest input: [model] (or the preset), the position table, and sentence-transformers'
  // max_seq_length, whichever is least.
  spec.max_seq_len = std::min(spec.max_seq_len, spec.max_positions);
  const HfConfig st = [&] {
    HfConfig c;
    const fs::path f = dir / "sentence_bert_config.json";
    if (!fs::exists(f)) return c;
    c.file = f;
    c.json = read_json_input(f, kMaxJsonBytes);
    if (!c.json.is_object()) fail(ErrorKind::kInput, "{}: expected a JSON object", f.string());
    return c;
  }();
  if (!st.json.is_null()) spec.max_seq_len = std::min(spec.max_seq_len, positive_int(st, "max_seq_length", spec.max_seq_len));
  if (spec.max_seq_len < 2) fail(ErrorKind::kInput, "{}: room for fewer than 2 tokens", checkpoint.string());
  auto tokenizer = std::make_shared<const WordPiece>(WordPiece::from_model_dir(dir));
  if (tokenizer->vocab_size() > spec.vocab_size) {
    fail(ErrorKind::kInput, "{}: the tokenizer has {} tokens, but embeddings.word_embeddings.weight only {} rows",
         dir.string(), tokenizer->vocab_size(), spec.vocab_size);
  }
  spec.tokenizer = std::move(tokenizer);
  notes.push_back(fmt::format("bert encoder: {} layers, hidden {}, {} heads, {} pooling, texts cut to {} tokens "
                              "by the model's WordPiece tokenizer ({} tokens)", spec.num_layers, spec.hidden_size,
                              spec.num_heads, spec.pooling, spec.max_seq_len, spec.tokenizer->vocab_size()));
}

}  // namespace

ImportedModel read_model_checkpoint(const fs::path& checkpoint, const ModelConfig& config, const DataShape& data,
                                    bool texts_are_token_ids, uint64_t head_seed) {
  ImportedModel report;
  std::error_code ec;
  if (!fs::exists(checkpoint, ec)) fail(ErrorKind::kInput, "{}: no such file or directory", checkpoint.string());
  if (fs::is_directory(checkpoint, ec) && !fs::exists(checkpoint / "model.safetensors.index.json", ec) &&
      !fs::exists(checkpoint / "model.safetensors", ec)) {
    fail(ErrorKind::kInput, "{}: no model.safetensors nor model.safetensors.index.json in the directory",
         checkpoint.string());
  }
  const HfConfig hf = hf_config(checkpoint);
  const SafetensorsFile file = read_checkpoint(checkpoint);
  Weights w;
  bool converted = false;
  for (auto& [name, t] : to_tensors(file)) {
    // Buffers some exporters include; they are recomputed, not learned.
    if (name.find("rotary_emb.inv_freq") != std::string::npos || name.ends_with("embeddings.position_ids")) continue;
    converted |= t.scalar_type() != torch::kFloat32;
    w[name] = t.to(torch::kFloat32).contiguous();
  }
  if (converted) report.notes.push_back("converted tensors to float32");

  // The architecture: the workspace's data says text, image or features; a text checkpoint is
  // a BERT encoder when its config.json (or its tensor names) say so, else Llama.
  ModelConfig model_config = config;
  if (data.payload_kind == "text" && model_config.arch == "auto" && is_bert(hf, w)) model_config.arch = "bert";
  ModelSpec spec = resolve_model_spec(model_config, data);
  if (spec.arch == "bert") {
    if (texts_are_token_ids) {
      fail(ErrorKind::kUsage, "{} is a BERT model with its own tokenizer, but the workspace keeps its texts as "
           "SentencePiece IDs (data.tokenizer = \"sentencepiece\"); ingest with data.tokenizer = \"byte\"",
           checkpoint.string());
    }
    keep_encoder_weights(w, report.notes);
    size_bert(spec, w, checkpoint, hf, report.notes);
  } else {
    // Sizes from the tensors themselves.
    spec.num_layers = layer_count(w, checkpoint, "model.layers.");
  }
  if (spec.arch == "llama") {
    spec.vocab_size = dim_of(w, "model.embed_tokens.weight", 0, checkpoint);
    spec.hidden_size = dim_of(w, "model.embed_tokens.weight", 1, checkpoint);
    spec.intermediate_size = dim_of(w, "model.layers.0.mlp.gate_proj.weight", 0, checkpoint);
    if (data.vocab_size > spec.vocab_size) {
      fail(ErrorKind::kInput, "{}: vocabulary of {} tokens, but the workspace's tokenizer produces up "
           "to {}", checkpoint.string(), spec.vocab_size, data.vocab_size);
    }
    check_agrees(hf, "num_hidden_layers", spec.num_layers, "count of model.layers.N blocks");
    check_agrees(hf, "vocab_size", spec.vocab_size, "model.embed_tokens.weight");
    check_agrees(hf, "hidden_size", spec.hidden_size, "model.embed_tokens.weight");
    check_agrees(hf, "intermediate_size", spec.intermediate_size, "model.layers.0.mlp.gate_proj.weight");
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
  } else if (spec.arch == "bert") {
    // sized above
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
  if (fresh_head) w["score.weight"] = init_weight(spec, "score.weight", head_seed);
  report.spec = std::move(spec);
  report.weights = std::move(w);
  return report;
}

ImportReport import_base(Workspace& ws, const Config& config, const fs::path& checkpoint,
                         spdlog::logger& log) {
  ImportedModel m = read_model_checkpoint(checkpoint, config.model, workspace_data_shape(ws), uses_sentencepiece(ws),
                                          static_cast<uint64_t>(config.pretrain.seed));
  // What training will need of the configuration, said now rather than at the first `train`.
  try {
    match_target_modules(linear_layers(m.spec), config.lora.target_modules);
  } catch (const Error& e) {
    m.notes.push_back(fmt::format("{}: set it before training{}", e.what(),
                                  m.spec.arch == "bert" ? " (PEFT's default for BERT is [\"query\", \"value\"])" : ""));
  }
  if (m.spec.num_layers % config.plan.slices != 0) {
    m.notes.push_back(fmt::format("S3T gives each of the plan's {} slices an equal group of blocks, but this model "
                                  "has {}: s3t needs plan.slices to divide {} (sisa and full do not)",
                                  config.plan.slices, m.spec.num_layers, m.spec.num_layers));
  }
  for (const auto& note : m.notes) log.info("{}", note);
  BaseProvenance prov;
  prov.source = "import";
  prov.imported_from = fs::absolute(checkpoint).string();
  ImportReport report;
  report.notes = std::move(m.notes);
  report.base = store_base(ws, m.spec, m.weights, prov);
  return report;
}

}  // namespace lethe
