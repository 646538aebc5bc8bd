// `lethe audit verify` (src/audit/audit_verify.h) on a small workspace with S3T nodes registered
// without training, a forget and its purge: a clean workspace verifies, and a change behind the
// ledger's back is found and named by the check it breaks.
#include <catch2/catch.hpp>

#include "src/audit/audit_verify.h"
#include "src/index/lineage_index.h"
#include "src/workspace/purge.h"
#include "tests/support/small_workspace.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

// 2 shards x 2 slices with S3T nodes, one record forgotten and purged; returns that record's ID.
std::string forgotten_and_purged(const fs::path& root) {
  test::create_small_workspace(root, test::small_config(2, 2, 2), test::text_records(0, 60, 30));
  auto w = open_workspace_for_write(root, "test");
  test::register_s3t_nodes(w.ws);
  const std::string id = test::record_in(w.ws, 1, 0);
  test::forget_ids(w.ws, {id}, "DSR-1");
  purge_pending(w.ws);
  return id;
}

AuditReport verified(const fs::path& root) {
  auto w = open_workspace_for_write(root, "test: verify");
  return verify_workspace(w.ws, w.ws.audit.public_key);
}

// Whether a violation of `check` at `where` (a prefix) says `words`.
bool found(const AuditReport& r, const std::string& check, const std::string& where, const std::string& words) {
  for (const AuditViolation& v : r.violations) {
    if (v.check == check && v.where.rfind(where, 0) == 0 && v.what.find(words) != std::string::npos) return true;
  }
  return false;
}

std::string listed(const AuditReport& r) {
  std::string s;
  for (const AuditViolation& v : r.violations) s += v.check + " | " + v.where + " | " + v.what + "\n";
  return s;
}

void exec(const fs::path& root, const std::string& sql) {
  Db db = Db::open(root / "lineage.db", false);
  db.exec(sql);
}

}  // namespace

TEST_CASE("audit verify: a workspace after ingest, training, a forget and its purge verifies clean", "[audit]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  forgotten_and_purged(root);
  const AuditReport r = verified(root);
  INFO(listed(r));
  CHECK(r.violations.empty());
  CHECK(r.ledger_entries > 8);         // ingest, 8 nodes, the forget, its purge
  CHECK(r.checkpoints == 8 - 3);       // shard 1 lost 3 of its 4 nodes
  CHECK(r.slices == 4);
  CHECK(r.slices_read == 4);           // matched against the deleted record's keyed ID
  CHECK(r.lineage_edges > 0);
}

TEST_CASE("audit verify: a changed ledger entry is a ledger violation naming the entry", "[audit][ledger]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  forgotten_and_purged(root);
  int64_t seq = 0;
  {
    Workspace ws = open_workspace(root);
    for (const LedgerEntry& e : read_ledger(ws.db)) {
      if (e.event == "forget.request") seq = e.seq;
    }
  }
  REQUIRE(seq > 0);
  // The request now claims to have switched nothing off.
  exec(root, "UPDATE ledger SET payload = json_set(payload, '$.deactivated', json('[]')) WHERE seq = " + std::to_string(seq));
  const AuditReport r = verified(root);
  INFO(listed(r));
  CHECK(found(r, "ledger", "entry " + std::to_string(seq), "hash"));
}

TEST_CASE("audit verify: index rows changed behind the ledger's back are named", "[audit]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  const std::string id = forgotten_and_purged(root);
  SECTION("a switched-off node made live again") {
    exec(root, "UPDATE components SET status = 'live' WHERE kind = 's3t' AND status = 'deactivated' AND prefix = '1.0'");
    const AuditReport r = verified(root);
    INFO(listed(r));
    CHECK(found(r, "ledger", "s3t component", "is live, but the ledger records it switched off"));
    CHECK(found(r, "lineage", "s3t component", "is live but was trained on slice"));
  }
  SECTION("a deleted record marked live again") {
    exec(root, "UPDATE records SET status = 0 WHERE status = 1");
    const AuditReport r = verified(root);
    INFO(listed(r));
    CHECK(found(r, "ledger", "request ", "which the index no longer holds as deleted"));
  }
  SECTION("a slice's hash changed in the index") {
    exec(root, "UPDATE slices SET hash = 'f00d' WHERE slice_id = (SELECT MIN(slice_id) FROM slices)");
    const AuditReport r = verified(root);
    INFO(listed(r));
    CHECK(found(r, "ledger", "data/", "in the index"));
    CHECK(found(r, "slices", "data/", "does not match its hash in the index"));
  }
}
