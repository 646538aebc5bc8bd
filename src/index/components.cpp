#include "src/index/components.h"

namespace lethe {

namespace {

std::vector<int64_t> ids(Stmt& q) {
  std::vector<int64_t> out;
  while (q.step()) out.push_back(q.int64(0));
  return out;
}

}  // namespace

bool has_component(Db& db, const std::string& kind) {
  Stmt q = db.prepare("SELECT 1 FROM components WHERE kind = ?");
  q.bind(1, kind);
  return q.step();
}

bool has_deactivated_component(Db& db, const std::string& kind) {
  Stmt q = db.prepare("SELECT 1 FROM components WHERE kind = ? AND status = 'deactivated'");
  q.bind(1, kind);
  return q.step();
}

std::vector<int64_t> live_component_ids(Db& db) {
  Stmt q = db.prepare("SELECT component_id FROM components WHERE status = 'live' ORDER BY component_id");
  return ids(q);
}

std::vector<int64_t> live_components_that_saw(Db& db, int64_t slice_id) {
  Stmt q = db.prepare(
      "SELECT DISTINCT c.component_id FROM component_slices cs JOIN components c USING (component_id) "
      "WHERE cs.slice_id = ? AND c.status = 'live' ORDER BY c.component_id");
  q.bind(1, slice_id);
  return ids(q);
}

std::optional<ComponentFile> component_file(Db& db, int64_t component_id) {
  Stmt q = db.prepare("SELECT file, (SELECT COUNT(*) FROM components l WHERE l.file = c.file AND l.status = 'live') "
                      "FROM components c WHERE component_id = ?");
  q.bind(1, component_id);
  if (!q.step()) return std::nullopt;
  return ComponentFile{q.text(0), q.int64(1) > 0};
}

std::vector<LiveEdge> live_lineage_edges(Db& db) {
  Stmt q = db.prepare(
      "SELECT c.component_id, c.kind, COALESCE(c.shard, -1), COALESCE(c.prefix, ''), cs.slice_id, cs.slice_hash, "
      "  (SELECT MIN(version) FROM slice_versions v WHERE v.slice_id = cs.slice_id AND v.hash = cs.slice_hash) "
      "FROM component_slices cs JOIN components c USING (component_id) WHERE c.status = 'live' "
      "ORDER BY c.component_id, cs.slice_id");
  std::vector<LiveEdge> out;
  while (q.step()) {
    LiveEdge e;
    e.component.component_id = q.int64(0);
    e.component.kind = q.text(1);
    e.component.shard = static_cast<int>(q.int64(2));
    e.component.prefix = q.text(3);
    e.slice_id = q.int64(4);
    e.slice_hash = q.text(5);
    if (!q.is_null(6)) e.version = q.int64(6);
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::string> newest_edge_hash(Db& db, int64_t slice_id, const std::string& kind) {
  Stmt q = db.prepare(
      "SELECT cs.slice_hash FROM component_slices cs JOIN components c USING (component_id) "
      "WHERE cs.slice_id = ? AND c.kind = ? ORDER BY c.component_id DESC LIMIT 1");
  q.bind(1, slice_id).bind(2, kind);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

}  // namespace lethe
