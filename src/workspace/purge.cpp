#include "src/workspace/purge.h"

#include <chrono>

#include "src/index/deletion_requests.h"
#include "src/index/lineage_index.h"
#include "src/index/purge_queue.h"
#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "src/workspace/layout.h"
#include "src/workspace/tokenizer_store.h"

namespace lethe {

namespace {

SliceRow slice_by_id(Workspace& ws, int64_t slice_id) {
  for (SliceRow& s : list_slices(ws.db)) {
    if (s.slice_id == slice_id) return s;
  }
  fail(ErrorKind::kIntegrity, "a pending purge names slice {}, which the index does not hold", slice_id);
}

PurgedSlice purge_slice(Workspace& ws, int64_t slice_id) {
  const auto t0 = std::chrono::steady_clock::now();
  const SliceRow s = slice_by_id(ws, slice_id);
  const fs::path old_path = ws.root / s.file;
  if (hash_file(old_path) != s.hash) {
    fail(ErrorKind::kIntegrity, "slice file '{}' does not match its hash in the index; refusing to purge "
         "from it (run 'lethe audit verify')", old_path.string());
  }
  SliceMeta meta;
  const RecordBatch old = read_slice_file(old_path, &meta);
  const std::vector<uint32_t> keep = live_rows(ws.db, slice_id);
  RecordBatch kept = RecordBatch::like(old);
  for (uint32_t row : keep) kept.append_from(old, row);
  const WrittenSlice written = write_slice_file(data_dir(ws.root), slice_stem(s.kind, s.shard, s.slice), kept, meta);

  PurgedSlice out{slice_id, s.hash, written.hash, old.size() - kept.size(), old.size()};
  Transaction txn(ws.db);
  // The deleted records leave the file; kept records keep their row numbers.
  const std::string new_file = fs::relative(written.path, ws.root).string();
  record_slice_purge(ws.db, slice_id, new_file, written.hash, written.bytes, kept.size());
  record_event(ws, "purge.slice", {{"slice_id", slice_id}, {"old_file", s.file}, {"old_hash", s.hash},
                                   {"new_file", new_file}, {"new_hash", written.hash},
                                   {"removed_records", out.removed_records}});
  txn.commit();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

// Copies the write-ahead log into the database and truncates it. A reader of an older snapshot
// blocks that (SQLite then leaves old page images in the log and the database file): waits for
// it a bounded number of times, then reports failure rather than pretending.
bool truncate_wal(Workspace& ws) {
  constexpr int kAttempts = 3, kWaitMs = 1000;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const WalCheckpoint c = ws.db.checkpoint_truncate(kWaitMs);
    if (!c.busy && c.log_frames == c.checkpointed_frames) return true;
  }
  return false;
}

}  // namespace

bool deletion_unfinished(Workspace& ws) {
  return purge_or_request_open(ws.db) || tokenizer_retrain_pending(ws);
}

PurgeReport purge_pending(Workspace& ws) {
  PurgeReport report;
  for (int64_t slice_id : queued_purges(ws.db)) {
    const SliceRow before = slice_by_id(ws, slice_id);
    report.slices.push_back(purge_slice(ws, slice_id));
    crash_point("purge.after_slice");
    std::error_code ec;
    if (fs::remove(ws.root / before.file, ec)) ++report.files_removed;
  }
  // The switched-off tokenizer is still the only key to the slices' token IDs: they are
  // encoded again with its replacement before its file goes below.
  if (tokenizer_retrain_pending(ws)) {
    report.retokenized = retrain_tokenizer(ws);
    crash_point("purge.after_retokenize");
  }
  // Checkpoints of deactivated components, and anything else unreferenced.
  report.files_removed += remove_unreferenced_files(ws);
  // Old page images in the write-ahead log, and pages of the database file not yet overwritten
  // from it, may still hold deleted records' IDs and owners (the index keeps only their keyed
  // hashes now): copy the log into the database, whose freed cells secure_delete has zeroed,
  // and truncate it. Not possible while a reader holds an older snapshot: then the requests stay
  // 'committed' and the next writer tries again.
  report.finished = truncate_wal(ws);
  if (!report.finished) return report;
  Transaction txn(ws.db);
  const std::vector<std::string> finished = close_purged_requests(ws.db);
  if (!finished.empty()) {
    record_event(ws, "forget.purged", {{"requests", finished}, {"files_removed", report.files_removed}});
  }
  txn.commit();
  return report;
}

}  // namespace lethe
