// The purge (src/workspace/purge.h): what a forget leaves in the slice files and the index, and
// what it costs. Cost is counted in SQLite page requests (cache hits and misses), which measure
// the work the statements did without depending on the machine's speed.
#include <catch2/catch.hpp>

#include "src/index/lineage_index.h"
#include "src/index/purge_queue.h"
#include "src/data/slice_file.h"
#include "src/ingest/ingest.h"
#include "src/unlearning/forget.h"
#include "src/workspace/layout.h"
#include "src/workspace/purge.h"
#include "src/workspace/workspace.h"
#include "tests/support/small_workspace.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

// The record in the first row of some slice: purging it moves every other row of the slice up.
std::string first_row_record(Workspace& ws) {
  Stmt q = ws.db.prepare("SELECT id FROM records WHERE row = 0 ORDER BY slice_id LIMIT 1");
  REQUIRE(q.step());
  return q.text(0);
}

void forget_id(Workspace& ws, const std::string& id) { test::forget_ids(ws, {id}, "req-" + id); }

struct PurgeCost {
  int64_t pages = 0;
  uint64_t slice_records = 0;
};

PurgeCost purge_cost(int64_t records_total, int shards, int slices) {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  test::create_small_workspace(root, test::small_config(shards, slices, 1), test::text_records(0, records_total, records_total));
  auto w = open_workspace_for_write(root, "test");
  forget_id(w.ws, first_row_record(w.ws));
  const int64_t before = w.ws.db.page_requests();
  const PurgeReport p = purge_pending(w.ws);
  REQUIRE(p.slices.size() == 1);
  return {w.ws.db.page_requests() - before, p.slices[0].records_before};
}

// The records of every slice file, by ID, and the index's claim of where each live record is.
void check_rows_match_files(Workspace& ws) {
  for (const SliceRow& s : list_slices(ws.db)) {
    const RecordBatch file = read_slice_file(ws.root / s.file);
    const std::vector<uint32_t> live = live_rows(ws.db, s.slice_id);
    CHECK(live.size() == s.live);
    for (uint32_t row : live) {
      const std::string id(file.ids.at(row));
      const auto where = find_record(ws.db, id);
      REQUIRE(where);
      CHECK_FALSE(where->deleted);
      CHECK(where->slice.slice_id == s.slice_id);
      CHECK(where->row == static_cast<int64_t>(row));
    }
  }
}

}  // namespace

TEST_CASE("purge: its index work grows with the slice, not with the workspace", "[purge]") {
  // The same slice size (about 1,000 records) in a workspace of 4 slices and one of 16. The old
  // purge renumbered every kept row with a statement that scanned the whole records table:
  // 38,023 page requests against 140,929 in the larger workspace (3.7x). Now the purge touches
  // only the deleted rows: 47 page requests in both.
  const PurgeCost small = purge_cost(4000, 2, 2);
  const PurgeCost large = purge_cost(16000, 4, 4);
  INFO("pages: " << small.pages << " (4,000 records) vs " << large.pages << " (16,000 records); slice records "
                 << small.slice_records << " vs " << large.slice_records);
  REQUIRE(small.slice_records > 800);
  REQUIRE(large.slice_records > 800);
  CHECK(large.pages < small.pages * 3 / 2);
}

TEST_CASE("purge: rows stay where the index says across purges and appends", "[purge]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  const Config config = test::small_config(1, 2, 1);
  test::create_small_workspace(root, config, test::text_records(0, 200, 200));
  {
    auto w = open_workspace_for_write(root, "test");
    // Two deletions in one slice, one at its first row, then purge.
    forget_id(w.ws, first_row_record(w.ws));
    std::string seventh;
    {
      Stmt q = w.ws.db.prepare("SELECT id FROM records WHERE status = 0 AND row = 7 ORDER BY slice_id LIMIT 1");
      REQUIRE(q.step());
      seventh = q.text(0);
    }
    forget_id(w.ws, seventh);
    purge_pending(w.ws);
    check_rows_match_files(w.ws);
  }
  // An append continues each slice's row numbers; a later deletion among the appended rows is
  // purged by position in the rewritten file.
  test::ingest_more(root, config, test::text_records(200, 100, 300));
  auto w = open_workspace_for_write(root, "test");
  check_rows_match_files(w.ws);
  forget_id(w.ws, "rec-250");
  forget_id(w.ws, "rec-3");
  {
    // Before the purge the deleted records are still in the files, and not among the live rows.
    check_rows_match_files(w.ws);
  }
  const PurgeReport p = purge_pending(w.ws);
  CHECK_FALSE(p.slices.empty());
  check_rows_match_files(w.ws);
  for (const SliceRow& s : list_slices(w.ws.db)) {
    const RecordBatch file = read_slice_file(w.ws.root / s.file);
    CHECK(file.size() == s.records);
    CHECK(s.records == s.live);
    for (size_t i = 0; i < file.size(); ++i) {
      CHECK(std::string(file.ids.at(i)) != "rec-250");
      CHECK(std::string(file.ids.at(i)) != "rec-3");
    }
  }
}

namespace {

// A train record of slice (shard, slice) whose ID and owner are no prefix of another's
// (two digits of 60), so that their bytes can be searched for in files; returns its number.
int64_t searchable_record(Workspace& ws, int shard, int slice) {
  Stmt q = ws.db.prepare(
      "SELECT r.id FROM records r JOIN slices s USING (slice_id) "
      "WHERE s.shard = ? AND s.slice = ? AND length(r.id) = 6 AND r.status = 0 ORDER BY r.rid LIMIT 1");
  q.bind(1, static_cast<int64_t>(shard)).bind(2, static_cast<int64_t>(slice));
  REQUIRE(q.step());
  return std::stoll(q.text(0).substr(4));
}

// 2 shards x 2 slices of 60 records, each its own owner, with S3T nodes (2 sequences).
void small_trained(const fs::path& root) {
  test::create_small_workspace(root, test::small_config(2, 2, 2), test::text_records(0, 60, 60));
  auto w = open_workspace_for_write(root, "test");
  test::register_s3t_nodes(w.ws);
}

}  // namespace

TEST_CASE("purge: a forgotten record's payload, ID and owner leave every workspace file, and so do the checkpoints "
          "of the nodes it switched off",
          "[purge][forget]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  small_trained(root);
  auto w = open_workspace_for_write(root, "test");
  const int64_t n = searchable_record(w.ws, 0, 1);
  const std::string id = "rec-" + std::to_string(n), owner = "owner-" + std::to_string(n);
  for (const std::string& needle : {test::payload_of(n), id, owner}) REQUIRE(!test::files_containing(root, needle).empty());
  const ForgetResult f = test::forget_ids(w.ws, {id}, "DSR-1");
  REQUIRE(f.deactivated.size() == 3);  // of shard 0's 0, 0.1, 1 and 1.0, all but "0"
  const PurgeReport p = purge_pending(w.ws);
  CHECK(p.finished);
  REQUIRE(p.slices.size() == 1);
  CHECK(p.slices[0].removed_records == 1);
  for (const std::string& needle : {test::payload_of(n), id, owner}) {
    INFO(needle);
    CHECK(test::files_containing(root, needle).empty());
  }
  for (const ComponentRow& c : f.deactivated) CHECK_FALSE(fs::exists(root / c.file));
  for (const ComponentRow& c : live_components(w.ws.db, "s3t")) CHECK(fs::exists(root / c.file));
  CHECK_FALSE(deletion_unfinished(w.ws));
  check_rows_match_files(w.ws);
}

TEST_CASE("purge: a deletion acknowledged before a kill -9 is purged by the next writer", "[purge][forget][crash]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  small_trained(root);
  int64_t a = 0, b = 0;
  {
    Workspace ws = open_workspace(root);
    a = searchable_record(ws, 0, 0);
    b = searchable_record(ws, 1, 1);
  }
  const std::string point = GENERATE(std::string("forget.after_commit"), std::string("purge.after_slice"));
  INFO("killed at " << point);
  REQUIRE(test::killed_at(point.c_str(), [&] {
    auto w = open_workspace_for_write(root, "test");
    test::forget_ids(w.ws, {"rec-" + std::to_string(a), "rec-" + std::to_string(b)}, "DSR-1");
    purge_pending(w.ws);
  }));
  {
    // The deletion is durable, and (killed before the purge, or after one of its two slices) at
    // least one slice file still holds its record. Read from the index file itself: opening the
    // workspace, even to read, finishes the purge.
    Db db = Db::open(index_file(root), false);
    Stmt q = db.prepare("SELECT (SELECT COUNT(*) FROM records WHERE status = 1), (SELECT COUNT(*) FROM pending_purges)");
    REQUIRE(q.step());
    CHECK(q.int64(0) == 2);
    CHECK(q.int64(1) == (point == "forget.after_commit" ? 2 : 1));
    CHECK(!test::files_containing(root / "data", test::payload_of(b)).empty());
  }
  auto w = open_workspace_for_write(root, "test: the next writer");
  CHECK(queued_purge_count(w.ws.db) == 0);
  CHECK_FALSE(deletion_unfinished(w.ws));
  for (const int64_t n : {a, b}) CHECK(test::files_containing(root / "data", test::payload_of(n)).empty());
  check_rows_match_files(w.ws);
}
