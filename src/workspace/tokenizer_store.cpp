#include "src/workspace/tokenizer_store.h"

#include "src/index/components.h"
#include "src/index/lineage_index.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "src/data/tokenizer.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

// The model file the slices are encoded with, checked against its recorded hash.
std::string read_encoding_model(Workspace& ws) {
  const std::string file = get_meta(ws.db, "tokenizer.file").value_or("");
  const fs::path path = ws.root / file;
  if (file.empty() || !fs::exists(path) || hash_file(path) != get_meta(ws.db, "tokenizer.hash").value_or("")) {
    fail(ErrorKind::kIntegrity, "tokenizer model '{}' is missing or does not match its hash in the index",
         path.string());
  }
  return read_file(path);
}

}  // namespace

bool uses_sentencepiece(Workspace& ws) { return get_meta(ws.db, "data.tokenizer").value_or("") == "sentencepiece"; }

bool tokenizer_retrain_pending(Workspace& ws) {
  return uses_sentencepiece(ws) && has_component(ws.db, "tokenizer") && live_components(ws.db, "tokenizer").empty();
}

std::string workspace_tokenizer(Workspace& ws) {
  if (tokenizer_retrain_pending(ws)) {
    fail(ErrorKind::kConflict,
         "the SentencePiece tokenizer of '{}' was switched off because a public record it was trained on has been "
         "deleted, and its replacement is not trained yet: run 'lethe recover' to finish the deletion (it trains "
         "a new tokenizer on the retained public records and encodes the slices again)", ws.root.string());
  }
  return read_encoding_model(ws);
}

void record_tokenizer(Workspace& ws, const std::string& file, int64_t public_slice_id, const std::string& public_hash,
                      int64_t vocab_size, const nlohmann::json& extra) {
  ComponentRow row;
  row.kind = "tokenizer";
  row.file = file;
  row.hash = hash_file(ws.root / file);
  const int64_t id = insert_component(ws.db, row);
  add_lineage_edge(ws.db, id, public_slice_id, public_hash);
  set_meta(ws.db, "tokenizer.file", file);
  set_meta(ws.db, "tokenizer.hash", row.hash);
  set_meta(ws.db, "tokenizer.vocab_size", std::to_string(vocab_size));
  nlohmann::json event = {{"component_id", id}, {"file", file}, {"hash", row.hash},
                          {"trained_on_slice", public_slice_id}, {"trained_on_hash", public_hash},
                          {"vocab_size", vocab_size}, {"replaced", nlohmann::json::array()}};
  event.update(extra);
  record_event(ws, "tokenizer.set", event);
}

size_t retrain_tokenizer(Workspace& ws) {
  const std::string old_model = read_encoding_model(ws);
  const int64_t vocab_size = std::stoll(
      get_meta(ws.db, "tokenizer.vocab_size").value_or(std::to_string(ws.config.data.vocab_size)));
  struct Decoded {
    SliceRow row;
    SliceMeta meta;
    RecordBatch batch;
  };
  std::vector<Decoded> slices;
  const Decoded* pub = nullptr;
  for (const SliceRow& s : list_slices(ws.db)) {
    const fs::path path = ws.root / s.file;
    if (hash_file(path) != s.hash) {
      fail(ErrorKind::kIntegrity, "slice file '{}' does not match its hash in the index; refusing to encode it "
           "again (run 'lethe audit verify')", path.string());
    }
    Decoded d{s, {}, {}};
    d.batch = read_slice_file(path, &d.meta);
    decode_sentencepiece(d.batch, old_model);
    slices.push_back(std::move(d));
  }
  for (const Decoded& d : slices) {
    if (d.row.kind == "public") pub = &d;
  }
  if (pub == nullptr) {
    fail(ErrorKind::kInput, "the SentencePiece tokenizer is trained on the public split only, and no public "
         "record is left: the slices cannot be encoded again");
  }
  const std::string model = train_sentencepiece(pub->batch, live_rows(ws.db, pub->row.slice_id),
                                                static_cast<int>(vocab_size));
  const fs::path model_path = data_dir(ws.root) / ("tokenizer-" + blake2b_hex(model).substr(0, 16) + ".model");
  write_file_atomic(model_path, model);
  const std::string model_file = fs::relative(model_path, ws.root).string();

  std::vector<WrittenSlice> written;
  PayloadType type = PayloadType::kU16;
  for (Decoded& d : slices) {
    encode_sentencepiece(d.batch, model);
    type = d.batch.payload_type;
    written.push_back(write_slice_file(data_dir(ws.root), slice_stem(d.row.kind, d.row.shard, d.row.slice), d.batch, d.meta));
  }

  Transaction txn(ws.db);
  nlohmann::json changed = nlohmann::json::array();
  std::string public_hash;
  for (size_t i = 0; i < slices.size(); ++i) {
    const std::string file = fs::relative(written[i].path, ws.root).string();
    set_slice_file(ws.db, slices[i].row.slice_id, file, written[i].hash, written[i].bytes);
    changed.push_back({{"slice_id", slices[i].row.slice_id}, {"old_hash", slices[i].row.hash},
                       {"new_hash", written[i].hash}});
    if (&slices[i] == pub) public_hash = written[i].hash;
  }
  set_meta(ws.db, "data.payload_type", payload_type_name(type));
  record_tokenizer(ws, model_file, pub->row.slice_id, public_hash, vocab_size, {{"slices", changed}});
  txn.commit();
  return slices.size();
}

void adopt_unrecorded_tokenizer(Workspace& ws) {
  if (!uses_sentencepiece(ws) || has_component(ws.db, "tokenizer")) return;
  const std::string file = get_meta(ws.db, "tokenizer.file").value_or("");
  if (file.empty()) return;
  const auto pub = first_public_slice(ws.db);
  if (!pub) return;  // no public split: ingest could not have trained one
  const int64_t slice_id = pub->slice_id, deleted = pub->deleted;
  const std::string first_hash = pub->first_hash;
  Transaction txn(ws.db);
  record_tokenizer(ws, file, slice_id, first_hash,
                   std::stoll(get_meta(ws.db, "tokenizer.vocab_size").value_or(std::to_string(ws.config.data.vocab_size))),
                   {{"adopted", true}});
  if (deleted > 0) {
    // Trained before some of its public records were deleted: switched off, so the next purge
    // trains its replacement.
    const std::vector<ComponentRow> live = live_components(ws.db, "tokenizer");
    set_component_status(ws.db, live.back().component_id, "deactivated");
    record_event(ws, "tokenizer.off", {{"deactivated", {live.back().component_id}},
                                       {"why", "its public slice has lost records since it was trained"}});
  }
  txn.commit();
}

}  // namespace lethe
