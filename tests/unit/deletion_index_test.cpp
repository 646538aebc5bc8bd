// The index's side of a deletion (src/index/deletion_requests.h, purge_queue.h, components.h):
// the one path that edits the index for a forget and a purge, tested on a bare index without
// slice files or training.
#include <catch2/catch.hpp>

#include "src/index/components.h"
#include "src/index/deletion_requests.h"
#include "src/index/lineage_index.h"
#include "src/index/purge_queue.h"
#include "src/index/record_sets.h"
#include "src/index/training_history.h"
#include "tests/support/bare_index.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

// `n` train records <prefix>0.. in a new slice (shard, slice); owner-<i % owners>.
int64_t load(Db& db, const std::string& prefix, int n, int owners, int shard, int slice) {
  return test::load_train_slice(db, test::train_batch(prefix, n, owners), shard, slice);
}

// Sealing a deleted record needs the ID secret.
const AuditKeys& keys() {
  static const AuditKeys k = generate_audit_keys();
  return k;
}

int64_t component(Db& db, const std::string& kind, const std::vector<std::pair<int64_t, std::string>>& seen) {
  ComponentRow c;
  c.kind = kind;
  c.shard = 0;
  c.file = "checkpoints/" + kind + std::to_string(seen.size()) + ".h5";
  c.hash = "c";
  const int64_t id = insert_component(db, c);
  for (const auto& [slice, hash] : seen) add_lineage_edge(db, id, slice, hash);
  return id;
}

std::vector<int64_t> rids_of(Db& db, NameField field, const std::string& name) {
  std::vector<int64_t> out;
  for (const NamedRecord& r : records_named(db, keys(), field, name)) out.push_back(r.rid);
  return out;
}

int64_t slice_live(Db& db, int64_t slice_id) {
  for (const SliceRow& s : list_slices(db)) {
    if (s.slice_id == slice_id) return static_cast<int64_t>(s.live);
  }
  return -1;
}

}  // namespace

TEST_CASE("deletion index: a recorded deletion marks, seals and queues, and counts only new deletions", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s = load(db, "a", 6, 3, 0, 0);
  const std::vector<int64_t> owner0 = rids_of(db, NameField::kOwner, "owner-0");  // a0, a3
  REQUIRE(owner0.size() == 2);

  Transaction txn(db);
  const RecordedDeletion first = record_deletion(db, keys(), "req-1", "why", owner0, {s});
  CHECK(first.deleted == 2);
  REQUIRE(first.keyed_ids.size() == 2);
  CHECK(first.keyed_ids[0] == keyed_hash_of(keys(), "a0"));
  // Sealed: the plain names are gone, the keyed ones find the deleted records.
  CHECK(records_named(db, keys(), NameField::kId, "a0").size() == 1);
  CHECK(records_named(db, keys(), NameField::kId, "a0").front().deleted);
  CHECK(records_named(db, AuditKeys{}, NameField::kId, "a0").empty());
  CHECK(slice_live(db, s) == 4);
  CHECK(queued_purges(db) == std::vector<int64_t>{s});
  CHECK(unpurged_deleted_count(db, s) == 2);
  const auto row = request_row(db, "req-1");
  REQUIRE(row.has_value());
  CHECK(row->status == "committed");
  CHECK(row->deleted == 2);

  // The same records again: nothing new is deleted, and with nothing to purge the request is
  // recorded purged.
  const RecordedDeletion again = record_deletion(db, keys(), "req-2", "", owner0, {});
  CHECK(again.deleted == 0);
  CHECK(request_row(db, "req-2")->status == "purged");
  CHECK(queued_purge_count(db) == 1);
  txn.commit();
}

TEST_CASE("deletion index: components are switched off with the request that did it", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s0 = load(db, "a", 4, 2, 0, 0);
  const int64_t s1 = load(db, "b", 4, 2, 0, 1);
  const int64_t base = component(db, "base", {});
  const int64_t saw0 = component(db, "s3t", {{s0, "h0"}});
  const int64_t saw_both = component(db, "s3t", {{s0, "h0"}, {s1, "h1"}});
  CHECK(live_components_that_saw(db, s0) == std::vector<int64_t>{saw0, saw_both});
  CHECK(live_components_that_saw(db, s1) == std::vector<int64_t>{saw_both});
  CHECK(live_component_ids(db) == std::vector<int64_t>{base, saw0, saw_both});

  Transaction txn(db);
  record_deletion(db, keys(), "req", "", {1}, {s0});
  deactivate_for_request(db, "req", {saw0});
  txn.commit();
  CHECK(component_by_id(db, saw0)->status == "deactivated");
  CHECK(live_components_that_saw(db, s0) == std::vector<int64_t>{saw_both});
  CHECK(has_deactivated_component(db, "s3t"));
  CHECK_FALSE(has_deactivated_component(db, "base"));
  Stmt linked = db.prepare("SELECT component_id FROM request_components WHERE request_id = 'req'");
  REQUIRE(linked.step());
  CHECK(linked.int64(0) == saw0);
  CHECK_FALSE(linked.step());
}

TEST_CASE("deletion index: requests close only once no slice waits for its purge", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s0 = load(db, "a", 4, 2, 0, 0);
  const int64_t s1 = load(db, "b", 4, 2, 0, 1);
  Transaction txn(db);
  record_deletion(db, keys(), "req-1", "", {1}, {s0});
  record_deletion(db, keys(), "req-2", "", {5}, {s1});
  CHECK(purge_or_request_open(db));
  CHECK(close_purged_requests(db).empty());

  record_slice_purge(db, s0, "data/new-0.h5", "n0", 10, 3);
  CHECK(close_purged_requests(db).empty());  // s1 still waits
  record_slice_purge(db, s1, "data/new-1.h5", "n1", 10, 3);
  CHECK(purge_or_request_open(db));  // purged, but the requests are not closed yet
  CHECK(close_purged_requests(db) == std::vector<std::string>{"req-1", "req-2"});
  CHECK_FALSE(purge_or_request_open(db));
  CHECK(close_purged_requests(db).empty());
  txn.commit();
  const std::vector<RequestRow> recent = recent_requests(db, 1);
  REQUIRE(recent.size() == 1);
  CHECK(recent[0].request_id == "req-2");
  CHECK(recent[0].status == "purged");
}

TEST_CASE("deletion index: a slice purge keeps row numbers and the lineage of what each version held", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s = load(db, "a", 6, 6, 0, 0);
  Transaction txn(db);
  record_deletion(db, keys(), "req", "", {2, 4}, {s});  // a1, a3: rows 1 and 3
  CHECK(deleted_records_seen(db, s, 0) == 2);
  record_slice_purge(db, s, "data/new.h5", "h-new", 10, 4);
  txn.commit();
  // Version 0 held both; version 1 (the new file) holds none.
  CHECK(deleted_records_seen(db, s, 0) == 2);
  CHECK(deleted_records_seen(db, s, 1) == 0);
  CHECK(unpurged_deleted_count(db, s) == 0);
  CHECK(queued_purge_count(db) == 0);
  CHECK(slice_live(db, s) == 4);
  // Kept records keep their numbers; their positions close up over the purged rows.
  CHECK(live_rows(db, s) == std::vector<uint32_t>{0, 1, 2, 3});
  CHECK(find_record(db, "a0")->row == 0);
  CHECK(find_record(db, "a2")->row == 1);
  CHECK(find_record(db, "a5")->row == 3);
  CHECK(next_row_number(db, s) == 6);
}

TEST_CASE("deletion index: lineage edges of live components name the slice version they saw", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s = load(db, "a", 4, 4, 0, 0);
  const int64_t old = component(db, "s3t", {{s, "h0"}});
  const int64_t unknown = component(db, "sisa", {{s, "never"}});
  const std::vector<LiveEdge> edges = live_lineage_edges(db);
  REQUIRE(edges.size() == 2);
  CHECK(edges[0].component.component_id == old);
  CHECK(edges[0].version == std::optional<int64_t>(0));
  CHECK(edges[1].component.component_id == unknown);
  CHECK_FALSE(edges[1].version.has_value());
  CHECK(newest_edge_hash(db, s, "sisa") == std::optional<std::string>("never"));
  CHECK_FALSE(newest_edge_hash(db, s, "full").has_value());
  const auto file = component_file(db, old);
  REQUIRE(file.has_value());
  CHECK(file->shared_with_live);  // itself
  CHECK_FALSE(component_file(db, 999).has_value());
}

TEST_CASE("deletion index: record sets by status and split", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s0 = load(db, "a", 4, 2, 0, 0);
  const int64_t s1 = load(db, "b", 4, 4, 1, 0);
  CHECK(max_rid(db) == 8);
  CHECK(live_train_count(db, false) == 8);
  CHECK(live_train_count(db, true) == 4);  // owner-0..3
  Transaction txn(db);
  record_deletion(db, keys(), "req", "", rids_of(db, NameField::kOwner, "owner-1"), {s0, s1});
  txn.commit();
  // owner-1: a1, a3 (shard 0) and b1 (shard 1).
  CHECK(deleted_train_records_per_shard(db) == std::map<int, int64_t>{{0, 2}, {1, 1}});
  CHECK(deleted_records(db).size() == 3);
  CHECK(deleted_train_ids(db).size() == 3);
  CHECK(live_train_records(db).size() == 5);
  CHECK(owners_with_only_live_train_records(db) == std::vector<std::string>{"owner-0", "owner-2", "owner-3"});
}

TEST_CASE("training history: every run is read back in order", "[deletion_index]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  TrainingRunRow a;
  a.command = "train";
  a.mode = "s3t";
  a.samples = 10;
  TrainingRunRow b = a;
  b.command = "retrain";
  b.nodes_pending = 1;
  insert_training_run(db, a);
  insert_training_run(db, b);
  const std::vector<TrainingRunRow> runs = training_runs(db);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].command == "train");
  CHECK(runs[1].command == "retrain");
  CHECK(runs[1].samples == 10);
  CHECK(last_complete_run(db, "s3t")->run_id == runs[0].run_id);
}
