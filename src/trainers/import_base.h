// `lethe import-base`: adopts an external checkpoint (a single safetensors file, a directory,
// or a Hugging Face sharded checkpoint's model.safetensors.index.json) as the workspace's base.
#pragma once

#include <spdlog/logger.h>

#include "src/trainers/base_model.h"

namespace lethe {

struct ImportReport {
  BaseModel base;
  std::vector<std::string> notes;  // what was adapted: a fresh head, a tied LM head, dtypes
};

// The architecture comes from the workspace's data (text: llama, images: vit, features: mlp);
// sizes come from the checkpoint's tensor shapes, attention heads and norm settings from a
// Hugging Face config.json beside it when there is one, else from [model]. Every missing,
// unexpected or misshapen tensor is named in one ErrorKind::kInput error.
ImportReport import_base(Workspace& ws, const Config& config, const fs::path& checkpoint,
                         spdlog::logger& log);

}  // namespace lethe
