// LoRA adapters on disk in Hugging Face PEFT's format, so that a Python PEFT user can load
// what Lethe trains: a directory with adapter_model.safetensors (keys
// base_model.model.<module>.lora_A.weight / lora_B.weight, and modules_to_save such as the
// classification head as base_model.model.<name>.weight) and adapter_config.json (PEFT's
// LoraConfig field names).
//
// What PEFT has no field for (the LoRA groups) travels in the safetensors metadata.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "peft/lora.h"
#include "src/common/fs.h"

namespace lethe {

struct AdapterExport {
  std::string base_model_name;             // base_model_name_or_path
  std::string task_type = "SEQ_CLS";       // PEFT task type
  std::vector<int> groups;                 // groups to export (empty = all)
  std::map<std::string, at::Tensor> modules_to_save;  // e.g. score.weight -> tensor
};

// Writes `dir`/adapter_model.safetensors and `dir`/adapter_config.json, each atomically.
// Bytes depend only on the adapters and options: exporting the same state twice gives the
// same files.
void export_adapter(const fs::path& dir, const LoraSet& set, const AdapterExport& options);

struct LoadedAdapter {
  LoraSet set;
  std::map<std::string, at::Tensor> modules_to_save;
  nlohmann::json config;  // adapter_config.json as read
};

// Reads an adapter directory written by export_adapter (or by PEFT, for LoRA adapters whose
// layers follow model.layers.N). Malformed or inconsistent files are ErrorKind::kIntegrity
// naming the file and the key.
LoadedAdapter load_adapter(const fs::path& dir);

// PEFT's key for a module's adapter matrix: base_model.model.<module>.lora_A.weight.
std::string peft_key(const std::string& module, const char* matrix);

}  // namespace lethe
