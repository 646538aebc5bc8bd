#include "src/audit/audit_verify.h"

#include <fmt/format.h>

#include <set>

#include "shards/ledger.h"
#include "shards/lineage_index.h"
#include "src/common/hash.h"

namespace lethe {

namespace {

void check_ledger(Workspace& ws, const std::string& public_key, AuditReport& r) {
  for (const LedgerViolation& v : verify_ledger(ws.db, public_key)) {
    r.violations.push_back({"ledger", v.seq > 0 ? fmt::format("entry {}", v.seq) : "ledger", v.what});
  }
  r.ledger_entries = static_cast<int64_t>(read_ledger(ws.db).size());
}

void check_checkpoints(Workspace& ws, AuditReport& r) {
  Stmt q = ws.db.prepare(
      "SELECT component_id, kind, COALESCE(shard, -1), COALESCE(prefix, ''), file, hash, status FROM components "
      "WHERE file IS NOT NULL AND file != '' ORDER BY component_id");
  std::set<std::string> live_files;
  std::vector<std::pair<std::string, std::string>> off;  // (file, name) of switched-off components
  while (q.step()) {
    const std::string name = fmt::format("{} component {} (shard {}, prefix '{}')", q.text(1), q.int64(0), q.int64(2), q.text(3));
    const std::string file = q.text(4);
    if (q.text(6) != "live") {
      off.push_back({file, name});
      continue;
    }
    live_files.insert(file);
    ++r.checkpoints;
    const fs::path path = ws.root / file;
    if (!fs::exists(path)) {
      r.violations.push_back({"checkpoints", file, name + ": the file is missing"});
    } else if (hash_file(path) != q.text(5)) {
      r.violations.push_back({"checkpoints", file, name + ": the file does not match its hash in the index"});
    }
  }
  for (const auto& [file, name] : off) {
    if (!live_files.count(file) && fs::exists(ws.root / file)) {
      r.violations.push_back({"leftovers", file, name + " is switched off, but its checkpoint file is still there"});
    }
  }
}

void check_slices(Workspace& ws, AuditReport& r) {
  for (const SliceRow& s : list_slices(ws.db)) {
    ++r.slices;
    const fs::path path = ws.root / s.file;
    if (!fs::exists(path)) {
      r.violations.push_back({"slices", s.file, "the slice file is missing"});
    } else if (hash_file(path) != s.hash) {
      r.violations.push_back({"slices", s.file, "the slice file does not match its hash in the index"});
    }
    Stmt held = ws.db.prepare("SELECT COUNT(*) FROM records WHERE slice_id = ? AND status = 1 AND row >= 0");
    held.bind(1, s.slice_id);
    held.step();
    if (held.int64(0) > 0) {
      r.violations.push_back({"slices", s.file, fmt::format("still holds {} deleted record{}", held.int64(0),
                                                            held.int64(0) == 1 ? "" : "s")});
    }
  }
  Stmt pending = ws.db.prepare("SELECT COUNT(*) FROM pending_purges");
  pending.step();
  if (pending.int64(0) > 0) {
    r.violations.push_back({"slices", "pending_purges", fmt::format("{} slices wait for their purge", pending.int64(0))});
  }
}

void check_lineage(Workspace& ws, AuditReport& r) {
  Stmt edges = ws.db.prepare(
      "SELECT c.component_id, c.kind, COALESCE(c.shard, -1), COALESCE(c.prefix, ''), cs.slice_id, cs.slice_hash, "
      "  (SELECT MIN(version) FROM slice_versions v WHERE v.slice_id = cs.slice_id AND v.hash = cs.slice_hash) "
      "FROM component_slices cs JOIN components c USING (component_id) WHERE c.status = 'live' "
      "ORDER BY c.component_id, cs.slice_id");
  Stmt purged = ws.db.prepare("SELECT COUNT(*) FROM purged_records WHERE slice_id = ? AND last_version >= ?");
  Stmt unpurged = ws.db.prepare("SELECT COUNT(*) FROM records WHERE slice_id = ? AND status = 1 AND row >= 0");
  while (edges.step()) {
    ++r.lineage_edges;
    const std::string name = fmt::format("{} component {} (shard {}, prefix '{}')", edges.text(1), edges.int64(0),
                                         edges.int64(2), edges.text(3));
    const int64_t slice = edges.int64(4);
    if (edges.is_null(6)) {
      r.violations.push_back({"lineage", name, fmt::format("was trained on a version of slice {} the index does not know", slice)});
      continue;
    }
    purged.bind(1, slice).bind(2, edges.int64(6));
    purged.step();
    unpurged.bind(1, slice);
    unpurged.step();
    const int64_t saw = purged.int64(0) + unpurged.int64(0);
    purged.reset();
    unpurged.reset();
    if (saw > 0) {
      r.violations.push_back({"lineage", name, fmt::format("is live but was trained on slice {} while it held {} deleted "
                                                           "record{}", slice, saw, saw == 1 ? "" : "s")});
    }
  }
}

}  // namespace

AuditReport verify_workspace(Workspace& ws, const std::string& public_key) {
  AuditReport r;
  check_ledger(ws, public_key, r);
  check_checkpoints(ws, r);
  check_slices(ws, r);
  check_lineage(ws, r);
  return r;
}

}  // namespace lethe
