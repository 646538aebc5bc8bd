#include "src/trainers/workspace_data.h"

#include <nlohmann/json.hpp>

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "src/data/tokenizer.h"
#include "src/workspace/tokenizer_store.h"

namespace lethe {

DataShape workspace_data_shape(Workspace& ws) {
  DataShape d;
  d.payload_kind = get_meta(ws.db, "data.payload_kind").value_or("");
  if (d.payload_kind.empty()) {
    fail(ErrorKind::kUsage, "workspace '{}' holds no data yet: run 'lethe ingest' first", ws.root.string());
  }
  const auto shape = nlohmann::json::parse(get_meta(ws.db, "data.payload_shape").value_or("[]"));
  d.num_labels = static_cast<int64_t>(label_names(ws.db).size());
  if (d.payload_kind == "text") {
    if (uses_sentencepiece(ws)) {
      d.vocab_size = sentencepiece_vocab_size(workspace_tokenizer(ws));
    } else {
      d.vocab_size = 256;  // byte-level
    }
  } else if (d.payload_kind == "image") {
    if (shape.size() != 2 || shape[0] != shape[1]) {
      fail(ErrorKind::kUsage, "the models take square images; the workspace's are {}", shape.dump());
    }
    d.image_size = shape[0].get<int64_t>();
  } else {
    if (shape.size() != 1) fail(ErrorKind::kIntegrity, "feature payload shape {} is not a vector", shape.dump());
    d.in_features = shape[0].get<int64_t>();
  }
  return d;
}

SliceRow split_slice(Workspace& ws, const std::string& kind) {
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == kind && s.live > 0) return s;
  }
  fail(ErrorKind::kNotFound, "workspace '{}' has no {} records (see data.public_fraction / "
       "data.test_fraction)", ws.root.string(), kind);
}

RecordBatch read_verified_slice(Workspace& ws, const SliceRow& slice) {
  const fs::path path = ws.root / slice.file;
  const std::string hash = hash_file(path);
  if (hash != slice.hash) {
    fail(ErrorKind::kIntegrity, "slice file '{}' has hash {} but the index recorded {}; refusing "
         "to train on it", path.string(), hash.substr(0, 16), slice.hash.substr(0, 16));
  }
  return read_slice_file(path);
}

}  // namespace lethe
