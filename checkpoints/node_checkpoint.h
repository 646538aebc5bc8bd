// Node checkpoints: one safetensors file per trained node (S3T: shard and slice prefix; the
// SISA and full baselines likewise), holding the LoRA group it trained and its head, and in its metadata the lineage the index
// also records: every slice the node has seen with its content hash, the base and parent it
// was trained on, its seed and the configuration hash. Files are content-addressed, written
// atomically, and verified against the index's hash on every load.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/common/fs.h"
#include "src/common/platform.h"

namespace lethe {

struct SeenSlice {
  int slice = 0;     // slice index within the shard (full: shard * L + slice)
  std::string hash;  // its content hash when the node trained
  bool operator==(const SeenSlice& o) const { return slice == o.slice && hash == o.hash; }
};

struct NodeMeta {
  std::string kind = "s3t";         // the training mode: s3t | sisa | full
  int shard = 0;                    // -1 for full
  std::string prefix;               // "2.0.1", or "all" for full
  std::vector<SeenSlice> slices;    // in training order
  std::string base_hash;
  std::string parent_hash;          // empty for a first stage
  std::string config_hash;
  uint64_t seed = 0;
  nlohmann::json metrics = nlohmann::json::object();
  Numerics trained_with;            // device, software and threads it was trained with
};

struct NodeCheckpoint {
  NodeMeta meta;
  std::map<std::string, at::Tensor> tensors;  // PEFT-style adapter keys and the head
};

struct WrittenNode {
  std::string file;  // relative to the checkpoint directory's parent: checkpoints/node-...
  std::string hash;  // BLAKE2b-256 of the bytes
};

// The file's bytes: deterministic for the same checkpoint.
std::string serialize_node(const NodeCheckpoint& node);

// Writes checkpoints/<kind>-s<shard>-p<prefix>-<hash16>.safetensors under `root` atomically.
WrittenNode write_node(const fs::path& root, const NodeCheckpoint& node);

// Reads a node back after checking its bytes against `expected_hash`: a mismatch or a
// malformed file is ErrorKind::kIntegrity naming the file.
NodeCheckpoint read_node(const fs::path& path, const std::string& expected_hash);

}  // namespace lethe
