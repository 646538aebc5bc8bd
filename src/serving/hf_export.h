// `lethe export`: what serves now, as files Hugging Face tools read. The directory holds
//   base/            the frozen base: config.json and model.safetensors in Hugging Face's
//                    layout (llama: LlamaForSequenceClassification; bert: BertModel with its
//                    tokenizer files and sentence-transformers pooling config)
//   shard-K/         per serving shard, its serving chain as one PEFT LoRA adapter
//                    (adapter_config.json, adapter_model.safetensors) and its head: in
//                    modules_to_save for llama (the model's score layer), in head.safetensors
//                    for bert (BertModel has no score layer; apply score.weight to the pooled
//                    output)
//   manifest.json    the mode, the base, per shard the components it reflects, and the ledger
//                    head it was taken at
// Only the current view is exported (src/serving/serving_view.h): a switched-off component
// never is. The directory is a snapshot: a later forget does not reach it; the manifest's
// ledger head says which deletions it reflects.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "src/config/config.h"
#include "src/workspace/workspace.h"

namespace lethe {

// Writes the export into `out`, which must not exist (ErrorKind::kConflict), through a sibling
// temporary directory renamed at the end (never onto a directory that appeared meanwhile):
// `out` appears whole or not at all. kConflict, with nothing exported, when the ledger moved
// during the export (its head is read before the view and again before the rename). Returns
// the manifest. kNotFound when `mode` has nothing serving; kUsage for a BERT tokenizer that
// BertTokenizer's files cannot express.
nlohmann::json export_hf(Workspace& ws, const Config& config, const std::string& mode, const fs::path& out);

}  // namespace lethe
