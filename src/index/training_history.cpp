#include "src/index/training_history.h"

#include "src/common/clock.h"

namespace lethe {

void insert_training_run(Db& db, const TrainingRunRow& r) {
  Stmt q = db.prepare(
      "INSERT INTO training_runs (command, mode, started_at, finished_at, ranks, requests_seq, nodes_trained, "
      "nodes_reused, nodes_pending, samples, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, r.command).bind(2, r.mode).bind(3, r.started_at).bind(4, utc_timestamp()).bind(5, r.ranks);
  q.bind(6, r.requests_seq).bind(7, r.nodes_trained).bind(8, r.nodes_reused).bind(9, r.nodes_pending);
  q.bind(10, r.samples).bind(11, r.seconds);
  q.run();
}

void record_component_cost(Db& db, int64_t component_id, int64_t samples, double seconds) {
  Stmt q = db.prepare("INSERT INTO component_costs (component_id, samples, seconds) VALUES (?, ?, ?)");
  q.bind(1, component_id).bind(2, samples).bind(3, seconds);
  q.run();
}

namespace {

constexpr const char* kRunColumns =
    "SELECT run_id, command, mode, started_at, finished_at, ranks, requests_seq, nodes_trained, nodes_reused, "
    "nodes_pending, samples, seconds FROM training_runs ";

TrainingRunRow read_run(const Stmt& q) {
  TrainingRunRow r;
  r.run_id = q.int64(0);
  r.command = q.text(1);
  r.mode = q.text(2);
  r.started_at = q.text(3);
  r.finished_at = q.text(4);
  r.ranks = q.int64(5);
  r.requests_seq = q.int64(6);
  r.nodes_trained = q.int64(7);
  r.nodes_reused = q.int64(8);
  r.nodes_pending = q.int64(9);
  r.samples = q.int64(10);
  r.seconds = q.real(11);
  return r;
}

}  // namespace

std::vector<TrainingRunRow> training_runs(Db& db) {
  Stmt q = db.prepare(std::string(kRunColumns) + "ORDER BY run_id");
  std::vector<TrainingRunRow> out;
  while (q.step()) out.push_back(read_run(q));
  return out;
}

std::optional<TrainingRunRow> last_complete_run(Db& db, const std::string& mode) {
  Stmt q = db.prepare(std::string(kRunColumns) + "WHERE mode = ? AND nodes_pending = 0 ORDER BY run_id DESC LIMIT 1");
  q.bind(1, mode);
  if (!q.step()) return std::nullopt;
  return read_run(q);
}

int64_t last_request_seq(Db& db) {
  Stmt q = db.prepare("SELECT COALESCE(MAX(seq), 0) FROM requests");
  q.step();
  return q.int64(0);
}

int64_t records_deleted_after(Db& db, int64_t seq) {
  Stmt q = db.prepare("SELECT COALESCE(SUM(deleted), 0) FROM requests WHERE seq > ?");
  q.bind(1, seq);
  q.step();
  return q.int64(0);
}

std::optional<double> measured_samples_per_second(Db& db, const std::string& mode) {
  Stmt q = db.prepare(
      "SELECT SUM(cc.samples), SUM(cc.seconds) FROM component_costs cc JOIN components c USING (component_id) "
      "WHERE c.kind = ?");
  q.bind(1, mode);
  q.step();
  if (q.is_null(0) || q.real(1) <= 0) return std::nullopt;
  return static_cast<double>(q.int64(0)) / q.real(1);
}

}  // namespace lethe
