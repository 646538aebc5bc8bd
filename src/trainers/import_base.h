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

// The architecture comes from the workspace's data (text: llama, or bert when the checkpoint's
// config.json says model_type "bert"; images: vit; features: mlp); sizes come from the
// checkpoint's tensor shapes, attention heads and norm settings from a Hugging Face config.json
// beside it when there is one (required for bert), else from [model]; sizes config.json states
// must agree with the tensors. A bert base takes the directory's WordPiece tokenizer
// (tokenizer.json or vocab.txt) and sentence-transformers pooling (modules.json) with it. Every
// missing, unexpected or misshapen tensor is named in one ErrorKind::kInput error, and every
// bad file or field of the directory is kInput naming it, before any tensor is allocated from a
// size it states.
struct ImportedModel {
  ModelSpec spec;
  Weights weights;
  std::vector<std::string> notes;
};

// The checks and sizing of import_base without a workspace: `data` is the shape of the
// workspace's data, `texts_are_token_ids` whether its texts are SentencePiece IDs (a bert
// checkpoint needs the texts themselves), `head_seed` seeds a fresh classification head.
ImportedModel read_model_checkpoint(const fs::path& checkpoint, const ModelConfig& config, const DataShape& data,
                                    bool texts_are_token_ids, uint64_t head_seed);

ImportReport import_base(Workspace& ws, const Config& config, const fs::path& checkpoint,
                         spdlog::logger& log);

}  // namespace lethe
