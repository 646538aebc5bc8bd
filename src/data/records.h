// In-memory records, stored by column: one byte buffer plus offsets per string column, so that
// ten million records cost bytes, not ten million heap allocations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lethe {

// Which part of the data a record belongs to. Public records train the base model only; test
// records are evaluation only; train records are planned into shards and slices.
enum class Split : uint8_t { kTrain = 0, kPublic = 1, kTest = 2 };
const char* split_name(Split split);

enum class PayloadKind : uint8_t { kImage, kText, kFeatures };
// Element type of the payload bytes (little-endian). Byte-level text and pixels are kU8.
enum class PayloadType : uint8_t { kU8, kU16, kU32, kF32 };
const char* payload_kind_name(PayloadKind kind);
const char* payload_type_name(PayloadType type);
size_t payload_type_size(PayloadType type);

// A growable column of variable-length byte strings.
struct ByteColumn {
  std::string bytes;
  std::vector<uint64_t> offsets{0};

  size_t size() const { return offsets.size() - 1; }
  std::string_view at(size_t i) const {
    return std::string_view(bytes).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
  void push(std::string_view value) {
    bytes.append(value);
    offsets.push_back(bytes.size());
  }
  void reserve(size_t count, size_t total_bytes) {
    offsets.reserve(count + 1);
    bytes.reserve(total_bytes);
  }
  bool operator==(const ByteColumn& o) const { return bytes == o.bytes && offsets == o.offsets; }
};

struct RecordBatch {
  PayloadKind payload_kind = PayloadKind::kText;
  PayloadType payload_type = PayloadType::kU8;
  std::vector<int64_t> payload_shape;  // per-record shape when fixed (images: {28, 28})

  ByteColumn ids;       // external record IDs, valid UTF-8, unique
  ByteColumn owners;    // owner IDs, valid UTF-8 (default: the record ID)
  ByteColumn payloads;  // each record's payload, elements of payload_type
  std::vector<int32_t> labels;     // index into the dataset's label names
  std::vector<Split> splits;       // a reader may pre-assign kTest; ingest assigns the rest
  std::vector<int64_t> timestamps; // empty when the source has none, else one per record

  size_t size() const { return ids.size(); }
  bool has_timestamps() const { return !timestamps.empty(); }

  // Appends record `i` of `other`, which must have the same payload kind and type.
  void append_from(const RecordBatch& other, size_t i);
  // An empty batch with the same payload description as `like`.
  static RecordBatch like(const RecordBatch& like);

  bool operator==(const RecordBatch& o) const;
};

}  // namespace lethe
