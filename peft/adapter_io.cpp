#include "peft/adapter_io.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/common/error.h"

namespace lethe {

namespace {

constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kPrefix = "base_model.model.";

// Where the blocks are in module names: Llama's model.layers.N, BERT's encoder.layer.N. PEFT's
// layers_pattern is the word before the index.
struct BlockMarker {
  const char* prefix;
  const char* pattern;
};
constexpr BlockMarker kMarkers[] = {{"model.layers.", "layers"}, {"encoder.layer.", "layer"}};

// The block index in a module name "model.layers.N...." or "encoder.layer.N....", or -1.
int layer_of(const std::string& module) {
  size_t at = std::string::npos, marker_size = 0;
  for (const BlockMarker& m : kMarkers) {
    at = module.find(m.prefix);
    marker_size = std::strlen(m.prefix);
    if (at != std::string::npos) break;
  }
  if (at == std::string::npos) return -1;
  size_t end = at + marker_size;
  int layer = 0;
  bool digits = false;
  while (end < module.size() && std::isdigit(static_cast<unsigned char>(module[end]))) {
    layer = layer * 10 + (module[end++] - '0');
    digits = true;
  }
  return digits ? layer : -1;
}

// "<module>.lora_A.weight" -> (module, 'A'); false for any other key.
bool split_lora_key(const std::string& key, std::string& module, char& matrix) {
  for (const char m : {'A', 'B'}) {
    const std::string suffix = std::string(".lora_") + m + ".weight";
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      module = key.substr(0, key.size() - suffix.size());
      matrix = m;
      return true;
    }
  }
  return false;
}

bool exported(const std::vector<int>& groups, int group) {
  return groups.empty() || std::find(groups.begin(), groups.end(), group) != groups.end();
}

}  // namespace

std::string peft_key(const std::string& module, const char* matrix) {
  return std::string(kPrefix) + module + "." + matrix + ".weight";
}

void export_adapter(const fs::path& dir, const LoraSet& set, const AdapterExport& options) {
  std::map<std::string, at::Tensor> tensors;
  std::vector<int> layers;
  std::string layers_pattern = "layers";
  for (const auto& [module, a] : set.adapters) {
    if (!exported(options.groups, a.group)) continue;
    for (const BlockMarker& m : kMarkers) {
      if (module.find(m.prefix) != std::string::npos) layers_pattern = m.pattern;
    }
    tensors[peft_key(module, "lora_A")] = a.A.detach();
    tensors[peft_key(module, "lora_B")] = a.B.detach();
    layers.push_back(layer_of(module));
  }
  if (tensors.empty()) fail(ErrorKind::kUsage, "no adapters in the requested LoRA groups to export");
  std::vector<std::string> modules_to_save;
  for (const auto& [name, t] : options.modules_to_save) {
    tensors[std::string(kPrefix) + name] = t.detach();
    modules_to_save.push_back(name.substr(0, name.rfind('.')));
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());

  std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"lethe.num_layers", std::to_string(set.num_layers)},
      {"lethe.num_groups", std::to_string(set.num_groups)},
  };
  fs::create_directories(dir);
  write_safetensors(dir / kWeightsFile, from_tensors(tensors, metadata));

  // PEFT's LoraConfig fields, with the values that describe exactly what was saved.
  const nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", options.task_type},
      {"base_model_name_or_path", options.base_model_name},
      {"r", set.config.r},
      {"lora_alpha", set.config.lora_alpha},
      {"lora_dropout", set.config.lora_dropout},
      {"use_rslora", set.config.use_rslora},
      // The configured entries, under PEFT's own matching rule (the same as Lethe's), so that PEFT
      // wraps exactly the Linears Lethe adapted; BERT's last name parts repeat ("dense").
      {"target_modules", set.config.target_modules == std::vector<std::string>{"all-linear"}
                             ? nlohmann::json("all-linear") : nlohmann::json(set.config.target_modules)},
      {"layers_to_transform", layers},
      {"layers_pattern", layers_pattern},
      {"modules_to_save", modules_to_save.empty() ? nlohmann::json(nullptr) : nlohmann::json(modules_to_save)},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"init_lora_weights", true},
      {"inference_mode", true},
      {"use_dora", false},
      {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()},
      {"revision", nullptr},
  };
  write_file_atomic(dir / kConfigFile, config.dump(2) + "\n");
}

LoadedAdapter load_adapter(const fs::path& dir) {
  LoadedAdapter out;
  const fs::path config_path = dir / kConfigFile;
  try {
    out.config = nlohmann::json::parse(read_file(config_path));
    LoraConfig& c = out.set.config;
    if (out.config.at("peft_type").get<std::string>() != "LORA") {
      fail(ErrorKind::kIntegrity, "{}: peft_type is not LORA", config_path.string());
    }
    c.r = out.config.at("r").get<int64_t>();
    c.lora_alpha = out.config.at("lora_alpha").get<double>();
    c.lora_dropout = out.config.value("lora_dropout", 0.0);
    c.use_rslora = out.config.value("use_rslora", false);
    const nlohmann::json& targets = out.config.at("target_modules");
    c.target_modules = targets.is_string() ? std::vector<std::string>{targets.get<std::string>()}
                                           : targets.get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kIntegrity, "{}: not a PEFT LoRA config: {}", config_path.string(), e.what());
  }
  if (out.set.config.r <= 0) fail(ErrorKind::kIntegrity, "{}: r must be positive", config_path.string());
  out.set.scaling = lora_scaling(out.set.config);

  const fs::path weights_path = dir / kWeightsFile;
  const SafetensorsFile file = read_safetensors(weights_path);
  auto meta_int = [&](const std::string& key, int fallback) {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end()) return fallback;
    try {
      return std::stoi(it->second);
    } catch (const std::exception&) {
      fail(ErrorKind::kIntegrity, "{}: metadata '{}' is not a number", weights_path.string(), key);
    }
  };
  std::map<std::string, at::Tensor> tensors = to_tensors(file);
  int max_layer = -1;
  for (const auto& [key, t] : tensors) {
    if (key.rfind(kPrefix, 0) != 0) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}' lacks the '{}' prefix", weights_path.string(), key, kPrefix);
    }
    const std::string rest = key.substr(std::strlen(kPrefix));
    std::string module;
    char matrix = 0;
    if (!split_lora_key(rest, module, matrix)) {
      out.modules_to_save[rest] = t;  // e.g. score.weight
      continue;
    }
    (matrix == 'A' ? out.set.adapters[module].A : out.set.adapters[module].B) = t;
    max_layer = std::max(max_layer, layer_of(module));
  }
  out.set.num_layers = meta_int("lethe.num_layers", max_layer + 1);
  out.set.num_groups = meta_int("lethe.num_groups", 1);
  out.set.enabled.assign(static_cast<size_t>(std::max(out.set.num_groups, 0)), true);
  for (auto& [module, a] : out.set.adapters) {
    if (!a.A.defined() || !a.B.defined()) {
      fail(ErrorKind::kIntegrity, "{}: module '{}' has only one of lora_A and lora_B",
           weights_path.string(), module);
    }
    if (a.A.dim() != 2 || a.B.dim() != 2 || a.A.size(0) != out.set.config.r || a.B.size(1) != out.set.config.r) {
      fail(ErrorKind::kIntegrity, "{}: module '{}': adapter shapes do not match r = {}",
           weights_path.string(), module, out.set.config.r);
    }
    const int layer = layer_of(module);
    if (layer < 0 || layer >= out.set.num_layers) {
      fail(ErrorKind::kIntegrity, "{}: module '{}' is not in a block (model.layers.N or encoder.layer.N)",
           weights_path.string(), module);
    }
    a.group = group_of_layer(layer, out.set.num_layers, out.set.num_groups);
  }
  return out;
}

}  // namespace lethe
