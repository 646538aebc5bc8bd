#include "src/index/record_sets.h"

namespace lethe {

int64_t max_rid(Db& db) {
  Stmt q = db.prepare("SELECT COALESCE(MAX(rid), 0) FROM records");
  q.step();
  return q.int64(0);
}

bool holds_deleted(Db& db, const std::string& id) {
  Stmt q = db.prepare("SELECT status FROM records WHERE id = ?");
  q.bind(1, id);
  return q.step() && q.int64(0) == 1;
}

std::vector<std::pair<int64_t, std::string>> deleted_records(Db& db) {
  Stmt q = db.prepare("SELECT rid, id FROM records WHERE status = 1 ORDER BY rid");
  std::vector<std::pair<int64_t, std::string>> out;
  while (q.step()) out.emplace_back(q.int64(0), q.text(1));
  return out;
}

std::map<int, int64_t> deleted_train_records_per_shard(Db& db) {
  Stmt q = db.prepare(
      "SELECT s.shard, COUNT(*) FROM records r JOIN slices s USING (slice_id) "
      "WHERE r.status = 1 AND s.kind = 'train' GROUP BY s.shard");
  std::map<int, int64_t> out;
  while (q.step()) out[static_cast<int>(q.int64(0))] = q.int64(1);
  return out;
}

std::vector<std::pair<std::string, int>> deleted_train_ids(Db& db) {
  Stmt q = db.prepare("SELECT r.id, s.shard FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND r.status = 1");
  std::vector<std::pair<std::string, int>> out;
  while (q.step()) out.emplace_back(q.text(0), static_cast<int>(q.int64(1)));
  return out;
}

std::vector<LiveTrainRecord> live_train_records(Db& db) {
  Stmt q = db.prepare(
      "SELECT r.owner, s.shard, s.slice FROM records r JOIN slices s USING (slice_id) "
      "WHERE s.kind = 'train' AND r.status = 0 ORDER BY r.rid");
  std::vector<LiveTrainRecord> out;
  while (q.step()) out.push_back({q.text(0), static_cast<int>(q.int64(1)), static_cast<int>(q.int64(2))});
  return out;
}

int64_t live_train_count(Db& db, bool by_owner) {
  Stmt q = db.prepare(std::string("SELECT ") + (by_owner ? "COUNT(DISTINCT r.owner)" : "COUNT(*)") +
                      " FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND r.status = 0");
  q.step();
  return q.int64(0);
}

std::vector<std::string> owners_with_only_live_train_records(Db& db) {
  Stmt q = db.prepare(
      "SELECT r.owner FROM records r JOIN slices s USING (slice_id) GROUP BY r.owner "
      "HAVING SUM(s.kind != 'train' OR r.status != 0) = 0 ORDER BY r.owner");
  std::vector<std::string> owners;
  while (q.step()) owners.push_back(q.text(0));
  return owners;
}

}  // namespace lethe
