// The workspace's base model: frozen weights that every adapter builds on. It is stored as a
// content-addressed safetensors file under checkpoints/, its hash and spec recorded in the
// index together with its lineage (the public slice it was trained on, or none for an
// imported checkpoint), and verified on every load.
#pragma once

#include <string>

#include "src/models/model.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct BaseModel {
  ModelSpec spec;
  Weights weights;
  std::string file;  // relative to the workspace
  std::string hash;  // BLAKE2b-256 of the file
};

struct BaseProvenance {
  std::string source;              // "pretrain" or "import"
  int64_t trained_on_slice = -1;   // slice_id of the public split, -1 for an import
  std::string trained_on_hash;     // that slice's content hash
  std::string imported_from;       // import: the path given
};

// Stores `weights` as the workspace's base and records it in one transaction; a previous base
// is deactivated and its file removed. The caller holds the workspace's write lock.
BaseModel store_base(Workspace& ws, const ModelSpec& spec, const Weights& weights,
                     const BaseProvenance& provenance);

// The live base, after checking the file's hash against the index and every weight's name
// and shape against the recorded spec. ErrorKind::kNotFound when there is none (run
// `lethe pretrain` or `lethe import-base`), kIntegrity when the file changed.
// The weights are placed on `device` (src/common/device.h) after those checks.
BaseModel load_base(Workspace& ws, c10::Device device = c10::kCPU);

}  // namespace lethe
