// The commit half of a deletion (src/unlearning/forget.h), on a small workspace with S3T nodes
// registered without training (tests/support/small_workspace.h): which records a request
// names, which components it switches off, and what it leaves alone.
#include <catch2/catch.hpp>

#include <set>

#include "src/common/error.h"
#include "src/index/lineage_index.h"
#include "src/unlearning/forget.h"
#include "tests/support/error_kind.h"
#include "tests/support/small_workspace.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::forget_ids;
using test::record_in;

namespace {

// 2 shards x 3 slices, 3 cyclic sequences per shard: 0.1.2, 1.2.0 and 2.0.1, so 9 nodes a shard.
struct Trained {
  test::TempDir dir;
  fs::path root = dir / "ws";
  Config config = test::small_config(2, 3, 3);
  WritableWorkspace w;
  test::NodeIds nodes;

  Trained() : w(made(root, config)) { nodes = test::register_s3t_nodes(w.ws); }

  static WritableWorkspace made(const fs::path& root, const Config& config) {
    test::create_small_workspace(root, config, test::text_records(0, 120, 40));
    return open_workspace_for_write(root, "test");
  }

  // Prefix names of the live nodes of `shard`.
  std::set<std::string> live(int shard) {
    std::set<std::string> out;
    for (const ComponentRow& c : live_components(w.ws.db, "s3t")) {
      if (c.shard == shard) out.insert(c.prefix);
    }
    return out;
  }
  int64_t ledger_size() { return static_cast<int64_t>(read_ledger(w.ws.db).size()); }
};


const std::set<std::string> kAllNodes = {"0", "0.1", "0.1.2", "1", "1.2", "1.2.0", "2", "2.0", "2.0.1"};

}  // namespace

TEST_CASE("forget: a request deletes exactly the records its IDs and owners name", "[forget]") {
  Trained t;
  Workspace& ws = t.w.ws;
  const auto owned = find_owner(ws.db, "owner-7");
  REQUIRE(owned.size() == 3);  // rec-7, rec-47, rec-87
  ForgetRequest req;
  req.ids = {"rec-2"};
  req.owners = {"owner-7"};
  req.request_id = "DSR-1";
  const ForgetResult r = commit_forget(ws, req, 0);
  CHECK(r.deleted == 4);
  CHECK(r.already_deleted == 0);
  CHECK(r.missing_ids.empty());
  CHECK(r.missing_owners.empty());
  // The named records are deleted (found again only under their keyed names), the rest live.
  for (const char* id : {"rec-2", "rec-7", "rec-47", "rec-87"}) {
    INFO(id);
    CHECK_FALSE(find_record(ws.db, id).has_value());
    const auto sealed = find_record(ws.db, id, ws.audit);
    REQUIRE(sealed.has_value());
    CHECK(sealed->deleted);
  }
  Stmt live = ws.db.prepare("SELECT COUNT(*) FROM records WHERE status = 0");
  REQUIRE(live.step());
  CHECK(live.int64(0) == 116);
  // Every slice that held one of them waits for its purge, and only those.
  std::set<int64_t> holding;
  for (const char* id : {"rec-2", "rec-7", "rec-47", "rec-87"}) holding.insert(find_record(ws.db, id, ws.audit)->slice.slice_id);
  CHECK(std::set<int64_t>(r.slices.begin(), r.slices.end()) == holding);
}

TEST_CASE("forget: in every sequence, the stage where the slice entered and every later one switch off", "[forget]") {
  Trained t;
  Workspace& ws = t.w.ws;
  REQUIRE(t.live(0) == kAllNodes);
  const ForgetResult r = forget_ids(ws, {record_in(ws, 0, 1)}, "DSR-1");
  // Slice 1 enters 0.1.2 at stage 2, 1.2.0 at stage 1 and 2.0.1 at stage 3.
  const std::set<std::string> off = {"0.1", "0.1.2", "1", "1.2", "1.2.0", "2.0.1"};
  std::set<std::string> reported;
  for (const ComponentRow& c : r.deactivated) {
    CHECK(c.shard == 0);
    CHECK(c.kind == "s3t");
    reported.insert(c.prefix);
  }
  CHECK(reported == off);
  CHECK(t.live(0) == std::set<std::string>{"0", "2", "2.0"});
  CHECK(t.live(1) == kAllNodes);  // the other shard never saw the slice
  for (const std::string& p : off) CHECK(component_by_id(ws.db, t.nodes.at({0, p}))->status == "deactivated");
}

TEST_CASE("forget: a record forgotten again, or named twice, is deleted once and switches nothing more off",
          "[forget]") {
  Trained t;
  Workspace& ws = t.w.ws;
  const std::string id = record_in(ws, 1, 2);
  const ForgetResult first = forget_ids(ws, {id, id}, "DSR-1");
  CHECK(first.deleted == 1);
  CHECK(first.deactivated.size() == 6);
  const auto live_after_first = t.live(1);
  const ForgetResult again = forget_ids(ws, {id}, "DSR-2");
  CHECK(again.deleted == 0);
  CHECK(again.already_deleted == 1);
  CHECK(again.deactivated.empty());
  CHECK(again.slices.empty());
  CHECK(t.live(1) == live_after_first);
  // A request ID is used once.
  const int64_t entries = t.ledger_size();
  CHECK(test::kind_of([&] { forget_ids(ws, {record_in(ws, 0, 0)}, "DSR-2"); }) == ErrorKind::kConflict);
  CHECK(t.ledger_size() == entries);
  CHECK(t.live(0) == kAllNodes);
}

TEST_CASE("forget: an unknown ID is not found, named, and nothing of the request is done", "[forget]") {
  Trained t;
  Workspace& ws = t.w.ws;
  const std::string known = record_in(ws, 0, 0);
  const int64_t entries = t.ledger_size();
  std::string message;
  CHECK(test::kind_of([&] { forget_ids(ws, {known, "no-such-record"}, "DSR-1"); }, &message) == ErrorKind::kNotFound);
  CHECK_THAT(message, Catch::Contains("'no-such-record'"));
  CHECK(find_record(ws.db, known).has_value());
  CHECK(t.live(0) == kAllNodes);
  CHECK(t.ledger_size() == entries);
  CHECK_FALSE(find_request(ws.db, ws.audit, "DSR-1").has_value());
  // --skip-missing forgets the known one and reports the other.
  ForgetRequest req;
  req.ids = {known, "no-such-record"};
  req.request_id = "DSR-1";
  req.skip_missing = true;
  const ForgetResult r = commit_forget(ws, req, 0);
  CHECK(r.deleted == 1);
  CHECK(r.missing_ids == std::vector<std::string>{"no-such-record"});
  CHECK_FALSE(find_record(ws.db, known).has_value());
}

TEST_CASE("forget: a deleted record the base saw switches off the base and everything built on it", "[forget]") {
  Trained t;
  Workspace& ws = t.w.ws;
  // A base that has seen slice (1, 0), as a base pretrained on a public slice would.
  const auto seen = find_record(ws.db, record_in(ws, 1, 0))->slice;
  {
    Transaction txn(ws.db);
    ComponentRow base;
    base.kind = "base";
    base.file = "checkpoints/base.fake";
    base.hash = "0";
    add_lineage_edge(ws.db, insert_component(ws.db, base), seen.slice_id, seen.hash);
    txn.commit();
  }
  // A record of a slice the base did not see leaves it, and the other shard, alone.
  forget_ids(ws, {record_in(ws, 0, 0)}, "DSR-1");
  CHECK(live_components(ws.db, "base").size() == 1);
  CHECK(t.live(1) == kAllNodes);
  const ForgetResult r = forget_ids(ws, {record_in(ws, 1, 0)}, "DSR-2");
  CHECK(live_components(ws.db, "base").empty());
  CHECK(live_components(ws.db, "s3t").empty());
  CHECK(r.deactivated.size() == 1 + 9 + 3);  // the base, shard 1's nodes, shard 0's still live
}

TEST_CASE("forget: a kill -9 before the commit leaves every record and node as it was", "[forget][crash]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  test::create_small_workspace(root, test::small_config(2, 3, 3), test::text_records(0, 120, 40));
  std::string id;
  int64_t entries = 0;
  {
    auto w = open_workspace_for_write(root, "test");
    test::register_s3t_nodes(w.ws);
    id = record_in(w.ws, 0, 1);
    entries = static_cast<int64_t>(read_ledger(w.ws.db).size());
  }
  REQUIRE(test::killed_at("forget.before_commit", [&] {
    auto w = open_workspace_for_write(root, "test");
    forget_ids(w.ws, {id}, "DSR-1");
  }));
  auto w = open_workspace_for_write(root, "test: the next writer");
  CHECK(find_record(w.ws.db, id).has_value());
  CHECK(live_components(w.ws.db, "s3t").size() == 18);
  CHECK(static_cast<int64_t>(read_ledger(w.ws.db).size()) == entries);
  CHECK_FALSE(find_request(w.ws.db, w.ws.audit, "DSR-1").has_value());
  // Never acknowledged: the same request can simply be made again.
  CHECK(forget_ids(w.ws, {id}, "DSR-1").deleted == 1);
}
