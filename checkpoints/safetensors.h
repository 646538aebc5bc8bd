// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, then the data.
// This module is torch-free on purpose: the parser is the attack surface of every checkpoint we
// load (files come from the Hub or other machines), and without LibTorch it can be fuzzed cheaply
// (tests/fuzz/). tensor_io.h converts to and from torch tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/fs.h"

namespace lethe {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

const char* dtype_name(DType dtype);  // "F32", "BF16", "BOOL", ... as in the safetensors spec
size_t dtype_size(DType dtype);       // bytes per element

struct TensorEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty for a scalar
  std::string bytes;           // little-endian, exactly numel * dtype_size bytes, as stored
};

struct SafetensorsFile {
  std::vector<TensorEntry> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
};

// Parses and validates a whole file. Anything malformed, inconsistent or lying (sizes, offsets,
// overlaps, gaps, duplicate keys, unknown dtypes) is ErrorKind::kIntegrity naming `source_name`
// and the offending tensor or field. Never reads out of bounds or allocates from an unchecked size.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source_name);
SafetensorsFile read_safetensors(const fs::path& path);

// Deterministic bytes: tensors sorted by name and laid out in that order, compact header with
// sorted keys, `__metadata__` only when non-empty, header padded with spaces to a multiple of 8.
// Invalid entries (size mismatch, empty or duplicate names) are ErrorKind::kInternal.
std::string serialize_safetensors(const SafetensorsFile& file);
void write_safetensors(const fs::path& path, const SafetensorsFile& file);  // atomic

// A Hugging Face sharded checkpoint: `index_json` is model.safetensors.index.json, whose
// weight_map names the shard (a file in the same directory) holding each tensor. The shards must
// hold exactly the tensors the index assigns to them. The result's metadata is the union of the
// shards' metadata and the index's "metadata" (non-string values as compact JSON).
SafetensorsFile read_sharded_safetensors(const fs::path& index_json);

// A directory (its model.safetensors.index.json if present, else its model.safetensors), an
// index file (name ending in .index.json) or a single .safetensors file.
SafetensorsFile read_checkpoint(const fs::path& path);

}  // namespace lethe
