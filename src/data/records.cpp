#include "src/data/records.h"

namespace lethe {

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kPublic: return "public";
    case Split::kTest: return "test";
  }
  return "?";
}

const char* payload_kind_name(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::kImage: return "image";
    case PayloadKind::kText: return "text";
    case PayloadKind::kFeatures: return "features";
  }
  return "?";
}

const char* payload_type_name(PayloadType type) {
  switch (type) {
    case PayloadType::kU8: return "u8";
    case PayloadType::kU16: return "u16";
    case PayloadType::kU32: return "u32";
    case PayloadType::kF32: return "f32";
  }
  return "?";
}

size_t payload_type_size(PayloadType type) {
  switch (type) {
    case PayloadType::kU8: return 1;
    case PayloadType::kU16: return 2;
    case PayloadType::kU32:
    case PayloadType::kF32: return 4;
  }
  return 1;
}

void RecordBatch::append_from(const RecordBatch& other, size_t i) {
  ids.push(other.ids.at(i));
  owners.push(other.owners.at(i));
  payloads.push(other.payloads.at(i));
  labels.push_back(other.labels[i]);
  splits.push_back(other.splits[i]);
  if (other.has_timestamps()) timestamps.push_back(other.timestamps[i]);
}

RecordBatch RecordBatch::like(const RecordBatch& like) {
  RecordBatch b;
  b.payload_kind = like.payload_kind;
  b.payload_type = like.payload_type;
  b.payload_shape = like.payload_shape;
  return b;
}

bool RecordBatch::operator==(const RecordBatch& o) const {
  return payload_kind == o.payload_kind && payload_type == o.payload_type &&
         payload_shape == o.payload_shape && ids == o.ids && owners == o.owners &&
         payloads == o.payloads && labels == o.labels && splits == o.splits &&
         timestamps == o.timestamps;
}

}  // namespace lethe
