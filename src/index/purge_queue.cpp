#include "src/index/purge_queue.h"

namespace lethe {

namespace {

int64_t count(Db& db, const char* sql, int64_t slice_id) {
  Stmt q = db.prepare(sql);
  q.bind(1, slice_id);
  q.step();
  return q.int64(0);
}

}  // namespace

int64_t unpurged_deleted_count(Db& db, int64_t slice_id) {
  // On the small partial index of deleted rows, not a scan of the slice's records.
  return count(db, "SELECT COUNT(*) FROM records WHERE slice_id = ? AND status = 1 AND row >= 0", slice_id);
}

void queue_purge(Db& db, int64_t slice_id) {
  Stmt live = db.prepare("UPDATE slices SET live = records - ? WHERE slice_id = ?");
  live.bind(1, unpurged_deleted_count(db, slice_id)).bind(2, slice_id);
  live.step();
  Stmt queue = db.prepare("INSERT OR IGNORE INTO pending_purges (slice_id) VALUES (?)");
  queue.bind(1, slice_id);
  queue.step();
}

std::vector<int64_t> queued_purges(Db& db) {
  Stmt q = db.prepare("SELECT slice_id FROM pending_purges ORDER BY slice_id");
  std::vector<int64_t> out;
  while (q.step()) out.push_back(q.int64(0));
  return out;
}

int64_t queued_purge_count(Db& db) {
  Stmt q = db.prepare("SELECT COUNT(*) FROM pending_purges");
  q.step();
  return q.int64(0);
}

bool purge_or_request_open(Db& db) {
  Stmt q = db.prepare("SELECT EXISTS (SELECT 1 FROM pending_purges) OR EXISTS (SELECT 1 FROM requests WHERE status = 'committed')");
  q.step();
  return q.int64(0) != 0;
}

void record_slice_purge(Db& db, int64_t slice_id, const std::string& file, const std::string& hash, uint64_t bytes,
                        uint64_t kept) {
  Stmt last = db.prepare(
      "INSERT INTO purged_records (rid, slice_id, last_version) "
      "SELECT rid, slice_id, (SELECT MAX(version) FROM slice_versions WHERE slice_id = ?1) "
      "FROM records WHERE slice_id = ?1 AND status = 1 AND row >= 0");
  last.bind(1, slice_id);
  last.step();
  Stmt holes = db.prepare(
      "INSERT INTO purged_rows (slice_id, row) SELECT slice_id, row FROM records WHERE slice_id = ? AND status = 1 AND row >= 0");
  holes.bind(1, slice_id);
  holes.step();
  Stmt up = db.prepare("UPDATE slices SET file = ?, hash = ?, bytes = ?, records = ?, live = ? WHERE slice_id = ?");
  up.bind(1, file).bind(2, hash).bind(3, static_cast<int64_t>(bytes)).bind(4, static_cast<int64_t>(kept));
  up.bind(5, static_cast<int64_t>(kept)).bind(6, slice_id);
  up.step();
  Stmt gone = db.prepare("UPDATE records SET row = -1 WHERE slice_id = ? AND status = 1 AND row >= 0");
  gone.bind(1, slice_id);
  gone.step();
  Stmt done = db.prepare("DELETE FROM pending_purges WHERE slice_id = ?");
  done.bind(1, slice_id);
  done.step();
}

int64_t deleted_records_seen(Db& db, int64_t slice_id, int64_t version) {
  Stmt purged = db.prepare("SELECT COUNT(*) FROM purged_records WHERE slice_id = ? AND last_version >= ?");
  purged.bind(1, slice_id).bind(2, version);
  purged.step();
  return purged.int64(0) + unpurged_deleted_count(db, slice_id);
}

}  // namespace lethe
