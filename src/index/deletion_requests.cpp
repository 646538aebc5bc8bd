#include "src/index/deletion_requests.h"

#include "src/index/lineage_index.h"
#include "src/index/purge_queue.h"

namespace lethe {

std::vector<NamedRecord> records_named(Db& db, const AuditKeys& keys, NameField field, const std::string& name) {
  const std::string keyed = keyed_name(keys, name);
  Stmt q = db.prepare(field == NameField::kId ? "SELECT rid, slice_id, status FROM records WHERE id IN (?1, ?2)"
                                              : "SELECT rid, slice_id, status FROM records WHERE owner IN (?1, ?2)");
  q.bind(1, name).bind(2, keyed.empty() ? name : keyed);
  std::vector<NamedRecord> out;
  while (q.step()) out.push_back({q.int64(0), q.int64(1), q.int64(2) != 0});
  return out;
}

namespace {

int64_t mark_records_deleted(Db& db, const std::vector<int64_t>& rids) {
  Stmt mark = db.prepare("UPDATE records SET status = 1 WHERE rid = ? AND status = 0");
  int64_t marked = 0;
  for (int64_t rid : rids) {
    mark.bind(1, rid);
    mark.step();
    marked += db.changes();
    mark.reset();
  }
  return marked;
}

}  // namespace

RecordedDeletion record_deletion(Db& db, const AuditKeys& keys, const std::string& request_id,
                                 const std::string& reason, const std::vector<int64_t>& rids,
                                 const std::vector<int64_t>& slices) {
  RecordedDeletion out;
  out.deleted = mark_records_deleted(db, rids);
  for (int64_t s : slices) queue_purge(db, s);
  Stmt request = db.prepare(
      "INSERT INTO requests (request_id, created_at, reason, deleted, status) "
      "VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, ?)");
  request.bind(1, request_id).bind(2, reason).bind(3, out.deleted).bind(4, slices.empty() ? "purged" : "committed");
  request.step();
  Stmt link = db.prepare("INSERT INTO request_records (request_id, rid) VALUES (?, ?)");
  for (int64_t rid : rids) {
    link.bind(1, request_id).bind(2, rid);
    link.step();
    link.reset();
  }
  for (int64_t rid : rids) out.keyed_ids.push_back(seal_deleted_record(db, keys, rid));
  return out;
}

void deactivate_for_request(Db& db, const std::string& request_id, const std::vector<int64_t>& component_ids) {
  Stmt comp = db.prepare("INSERT INTO request_components (request_id, component_id) VALUES (?, ?)");
  for (int64_t id : component_ids) {
    set_component_status(db, id, "deactivated");
    comp.bind(1, request_id).bind(2, id);
    comp.step();
    comp.reset();
  }
}

namespace {

constexpr const char* kRequestColumns = "SELECT seq, request_id, created_at, reason, deleted, status FROM requests ";

RequestRow read_request(const Stmt& q) {
  return {q.int64(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.text(5)};
}

}  // namespace

std::optional<RequestRow> request_row(Db& db, const std::string& stored_request_id) {
  Stmt q = db.prepare(std::string(kRequestColumns) + "WHERE request_id = ?");
  q.bind(1, stored_request_id);
  if (!q.step()) return std::nullopt;
  return read_request(q);
}

std::vector<RequestRow> recent_requests(Db& db, int64_t limit) {
  Stmt q = db.prepare(std::string(kRequestColumns) + "ORDER BY seq DESC LIMIT ?");
  q.bind(1, limit);
  std::vector<RequestRow> out;
  while (q.step()) out.push_back(read_request(q));
  return out;
}

std::vector<std::string> close_purged_requests(Db& db) {
  std::vector<std::string> closed;
  {
    Stmt q = db.prepare(
        "SELECT request_id FROM requests WHERE status = 'committed' AND NOT EXISTS (SELECT 1 FROM pending_purges) ORDER BY seq");
    while (q.step()) closed.push_back(q.text(0));
  }
  if (!closed.empty()) db.exec("UPDATE requests SET status = 'purged' WHERE status = 'committed'");
  return closed;
}

}  // namespace lethe
