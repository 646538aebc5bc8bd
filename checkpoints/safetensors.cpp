#include "checkpoints/safetensors.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "src/common/error.h"

namespace lethe {

namespace {

using nlohmann::json;

// The reference implementation's limit; it also bounds what nlohmann allocates for the header.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// {"name": {"shape": [...]}} is as deep as a valid header gets; refusing deeper input before
// nlohmann builds it keeps hostile headers ("[[[[...") from costing memory out of proportion.
constexpr int kMaxHeaderDepth = 3;
// model.safetensors.index.json is {"metadata": {...}, "weight_map": {...}}; leave some room.
constexpr int kMaxIndexDepth = 8;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kSingleFile = "model.safetensors";

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},   {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.dtype == dtype) return d;
  }
  fail(ErrorKind::kInternal, "unknown DType value {}", static_cast<int>(dtype));
}

bool dtype_from_name(const std::string& name, DType* out) {
  for (const DTypeInfo& d : kDTypes) {
    if (name == d.name) {
      *out = d.dtype;
      return true;
    }
  }
  return false;
}

// numel * dtype_size, or false when a dimension is negative or the product overflows.
bool byte_size(const std::vector<int64_t>& shape, DType dtype, uint64_t* out) {
  uint64_t n = 1;
  for (const int64_t d : shape) {
    if (d < 0) return false;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  return !__builtin_mul_overflow(n, static_cast<uint64_t>(dtype_size(dtype)), out);
}

// Refuses nesting deeper than `max_depth` with a scan that never allocates. Strings are
// skipped (escapes included) so that brackets inside names do not count.
bool within_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Parses JSON, rejecting duplicate object keys: nlohmann silently keeps the last one, which
// would let a file show one tensor to a reviewer's tool and another to us.
json parse_json_strict(std::string_view text, int max_depth, const std::string& source, const char* what) {
  if (!within_depth(text, max_depth)) {
    fail(ErrorKind::kIntegrity, "{}: {} is nested deeper than {} levels", source, what, max_depth);
  }
  std::vector<std::set<std::string>> open;  // keys seen in each enclosing object
  std::string top_key;                      // the current key of the outermost object
  std::string duplicate;                    // the first duplicate found, described
  const json::parser_callback_t track = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == json::parse_event_t::key && !open.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (depth == 1) top_key = key;
      if (!open.back().insert(key).second && duplicate.empty()) {
        duplicate = depth == 1 ? fmt::format("duplicate key '{}'", key)
                               : fmt::format("'{}': duplicate key '{}'", top_key, key);
      }
    }
    return true;
  };
  json parsed;
  try {
    parsed = json::parse(text.begin(), text.end(), track);
  } catch (const json::exception& e) {
    fail(ErrorKind::kIntegrity, "{}: {} is not valid JSON: {}", source, what, e.what());
  }
  if (!duplicate.empty()) fail(ErrorKind::kIntegrity, "{}: {}: {}", source, what, duplicate);
  return parsed;
}

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void append_u64_le(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A tensor as the header describes it, before its bytes are copied.
struct Slot {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& source) {
  if (!value.is_object()) {
    fail(ErrorKind::kIntegrity, "{}: {} is not an object of strings", source, kMetadataKey);
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) {
      fail(ErrorKind::kIntegrity, "{}: {} value '{}' is not a string", source, kMetadataKey, key);
    }
    out.emplace(key, v.get<std::string>());
  }
  return out;
}

uint64_t parse_offset(const json& v, const std::string& source, const std::string& name) {
  if (!v.is_number_unsigned()) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets entry {} is not a non-negative integer",
         source, name, v.dump());
  }
  return v.get<uint64_t>();
}

Slot parse_slot(const std::string& name, const json& value, uint64_t data_size, const std::string& source) {
  if (name.empty()) fail(ErrorKind::kIntegrity, "{}: a tensor has an empty name", source);
  if (!value.is_object()) fail(ErrorKind::kIntegrity, "{}: tensor '{}' is not an object", source, name);
  for (const auto& [key, unused] : value.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': unexpected field '{}'", source, name, key);
    }
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': missing field '{}'", source, name, field);
    }
  }
  Slot slot;
  slot.name = name;

  const json& dtype = value["dtype"];
  if (!dtype.is_string() || !dtype_from_name(dtype.get<std::string>(), &slot.dtype)) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': unknown dtype {}", source, name, dtype.dump());
  }

  const json& shape = value["shape"];
  if (!shape.is_array()) fail(ErrorKind::kIntegrity, "{}: tensor '{}': shape is not an array", source, name);
  for (const json& d : shape) {
    if (d.is_number_integer() && !d.is_number_unsigned()) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': shape has a negative dimension {}", source, name,
           d.dump());
    }
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': shape dimension {} is not a valid size", source, name,
           d.dump());
    }
    slot.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  uint64_t nbytes = 0;
  if (!byte_size(slot.shape, slot.dtype, &nbytes)) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': shape {} overflows", source, name, shape.dump());
  }

  const json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets is not [begin, end]", source, name);
  }
  slot.begin = parse_offset(offsets[0], source, name);
  slot.end = parse_offset(offsets[1], source, name);
  if (slot.begin > slot.end) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets [{}, {}] end before they begin", source, name,
         slot.begin, slot.end);
  }
  if (slot.end > data_size) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets [{}, {}] exceed the data section ({} bytes)",
         source, name, slot.begin, slot.end, data_size);
  }
  if (slot.end - slot.begin != nbytes) {
    fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets [{}, {}] hold {} bytes but {} {} needs {}",
         source, name, slot.begin, slot.end, slot.end - slot.begin, dtype_name(slot.dtype), shape.dump(),
         nbytes);
  }
  return slot;
}

// The spec requires the tensors to tile the data section exactly: an overlap aliases two
// tensors, a gap hides bytes no reader checks.
void check_layout(std::vector<const Slot*> slots, uint64_t data_size, const std::string& source) {
  std::sort(slots.begin(), slots.end(), [](const Slot* a, const Slot* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  uint64_t expected = 0;
  const Slot* previous = nullptr;
  for (const Slot* s : slots) {
    if (s->begin < expected) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' (ends at {})",
           source, s->name, s->begin, s->end, previous->name, expected);
    }
    if (s->begin > expected) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': data_offsets [{}, {}] leave a gap of {} bytes before it",
           source, s->name, s->begin, s->end, s->begin - expected);
    }
    expected = s->end;
    previous = s;
  }
  if (expected != data_size) {
    fail(ErrorKind::kIntegrity,
         "{}: the data section has {} bytes after the last tensor that no tensor covers", source,
         data_size - expected);
  }
}

void check_bool_bytes(const TensorEntry& e, const std::string& source) {
  for (const char c : e.bytes) {
    if (c != 0 && c != 1) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}': BOOL byte {} is neither 0 nor 1", source, e.name,
           static_cast<int>(static_cast<unsigned char>(c)));
    }
  }
}

SafetensorsFile parse_checked(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8) {
    fail(ErrorKind::kIntegrity, "{}: file is {} bytes, shorter than the 8-byte header length", source,
         bytes.size());
  }
  const uint64_t header_size = read_u64_le(bytes.data());
  const uint64_t rest = bytes.size() - 8;
  if (header_size > rest) {
    fail(ErrorKind::kIntegrity, "{}: header length {} exceeds the {} bytes that follow it", source,
         header_size, rest);
  }
  if (header_size > kMaxHeaderBytes) {
    fail(ErrorKind::kIntegrity, "{}: header length {} exceeds the limit of {} bytes", source, header_size,
         kMaxHeaderBytes);
  }
  const std::string_view header_text = bytes.substr(8, header_size);
  const std::string_view data = bytes.substr(8 + header_size);

  const json header = parse_json_strict(header_text, kMaxHeaderDepth, source, "header");
  if (!header.is_object()) fail(ErrorKind::kIntegrity, "{}: header is not a JSON object", source);

  SafetensorsFile file;
  std::vector<Slot> slots;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      file.metadata = parse_metadata(value, source);
    } else {
      slots.push_back(parse_slot(key, value, data.size(), source));
    }
  }
  std::vector<const Slot*> order;
  for (const Slot& s : slots) order.push_back(&s);
  check_layout(std::move(order), data.size(), source);

  // nlohmann's objects iterate in std::string order, so `slots` is already sorted by name.
  file.tensors.reserve(slots.size());
  for (Slot& s : slots) {
    TensorEntry e{std::move(s.name), s.dtype, std::move(s.shape),
                  std::string(data.substr(s.begin, s.end - s.begin))};
    if (e.dtype == DType::kBool) check_bool_bytes(e, source);
    file.tensors.push_back(std::move(e));
  }
  return file;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Shard names come from a downloaded file: only a plain name in the index's own directory.
bool plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

void merge_metadata(std::map<std::string, std::string>& into, const std::string& key,
                    const std::string& value, const std::string& where) {
  const auto [it, inserted] = into.emplace(key, value);
  if (!inserted && it->second != value) {
    fail(ErrorKind::kIntegrity, "{}: metadata '{}' is '{}' here but '{}' elsewhere in the checkpoint", where,
         key, value, it->second);
  }
}

}  // namespace

const char* dtype_name(DType dtype) { return info(dtype).name; }
size_t dtype_size(DType dtype) { return info(dtype).size; }

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source_name) {
  try {
    return parse_checked(bytes, source_name);
  } catch (const json::exception& e) {
    // Every access above checks types first; this is the net for anything missed.
    fail(ErrorKind::kIntegrity, "{}: malformed header: {}", source_name, e.what());
  }
}

SafetensorsFile read_safetensors(const fs::path& path) {
  return parse_safetensors(read_file(path), path.string());
}

std::string serialize_safetensors(const SafetensorsFile& file) {
  std::vector<const TensorEntry*> order;
  for (const TensorEntry& e : file.tensors) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->name < b->name; });

  json header = json::object();
  uint64_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorEntry& e = *order[i];
    if (e.name.empty() || e.name == kMetadataKey) {
      fail(ErrorKind::kInternal, "cannot write a safetensors tensor named '{}'", e.name);
    }
    if (i > 0 && order[i - 1]->name == e.name) {
      fail(ErrorKind::kInternal, "cannot write two safetensors tensors named '{}'", e.name);
    }
    uint64_t nbytes = 0;
    if (!byte_size(e.shape, e.dtype, &nbytes) || nbytes != e.bytes.size()) {
      fail(ErrorKind::kInternal, "tensor '{}': {} bytes do not match dtype {} and shape {}", e.name,
           e.bytes.size(), dtype_name(e.dtype), json(e.shape).dump());
    }
    header[e.name] = {
        {"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  if (!file.metadata.empty()) header[kMetadataKey] = file.metadata;

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail(ErrorKind::kInternal, "cannot encode a safetensors header: {}", e.what());  // invalid UTF-8
  }
  // Readers that map the file can then view the data aligned to 8 bytes, as the reference does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  append_u64_le(out, text.size());
  out += text;
  for (const TensorEntry* e : order) out += e->bytes;
  return out;
}

void write_safetensors(const fs::path& path, const SafetensorsFile& file) {
  write_file_atomic(path, serialize_safetensors(file));
}

SafetensorsFile read_sharded_safetensors(const fs::path& index_json) {
  const std::string source = index_json.string();
  const json index = parse_json_strict(read_file(index_json), kMaxIndexDepth, source, "index");
  if (!index.is_object()) fail(ErrorKind::kIntegrity, "{}: index is not a JSON object", source);

  SafetensorsFile out;
  if (index.contains("metadata")) {
    const json& meta = index["metadata"];
    if (!meta.is_object() && !meta.is_null())
      fail(ErrorKind::kIntegrity, "{}: metadata is not an object", source);
    if (meta.is_object()) {
      for (const auto& [key, v] : meta.items())
        out.metadata[key] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail(ErrorKind::kIntegrity, "{}: weight_map is missing or not an object", source);
  }
  const json& weight_map = index["weight_map"];
  std::map<std::string, std::set<std::string>> by_shard;  // shard file -> names it must hold
  for (const auto& [name, shard] : weight_map.items()) {
    if (!shard.is_string()) {
      fail(ErrorKind::kIntegrity, "{}: weight_map entry for tensor '{}' is not a file name", source, name);
    }
    const std::string& file = shard.get_ref<const std::string&>();
    if (!plain_file_name(file)) {
      fail(ErrorKind::kIntegrity,
           "{}: tensor '{}': shard '{}' is not a plain file name in the index's directory", source, name,
           file);
    }
    by_shard[file].insert(name);
  }

  const fs::path dir = index_json.parent_path();
  for (auto& [shard, expected] : by_shard) {
    const fs::path shard_path = dir / shard;
    SafetensorsFile part = read_safetensors(shard_path);
    for (TensorEntry& e : part.tensors) {
      if (expected.erase(e.name) == 0) {
        const auto it = weight_map.find(e.name);
        if (it == weight_map.end()) {
          fail(ErrorKind::kIntegrity, "{}: tensor '{}' is not in the weight_map of {}", shard_path.string(),
               e.name, source);
        }
        fail(ErrorKind::kIntegrity, "{}: tensor '{}' is assigned to shard '{}' by {}", shard_path.string(),
             e.name, it->get<std::string>(), source);
      }
      out.tensors.push_back(std::move(e));
    }
    if (!expected.empty()) {
      fail(ErrorKind::kIntegrity, "{}: tensor '{}' listed in the weight_map is missing from shard '{}'",
           source, *expected.begin(), shard);
    }
    for (const auto& [key, value] : part.metadata)
      merge_metadata(out.metadata, key, value, shard_path.string());
  }
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  return out;
}

SafetensorsFile read_checkpoint(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path index = path / kIndexFile;
    if (fs::exists(index, ec)) return read_sharded_safetensors(index);
    return read_safetensors(path / kSingleFile);
  }
  if (ends_with(path.filename().string(), ".index.json")) return read_sharded_safetensors(path);
  return read_safetensors(path);
}

}  // namespace lethe
