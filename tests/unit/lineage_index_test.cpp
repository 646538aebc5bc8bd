// The lineage index: record locations, owner queries, bulk loads and component lineage.
#include <catch2/catch.hpp>

#include <set>

#include "src/index/lineage_index.h"
#include "src/index/lineage_schema.h"
#include "src/common/error.h"
#include "tests/support/bare_index.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

std::set<std::string> record_indexes(Db& db) {
  std::set<std::string> names;
  Stmt q = db.prepare("SELECT name FROM pragma_index_list('records')");
  while (q.step()) names.insert(q.text(0));
  return names;
}

}  // namespace

TEST_CASE("lineage index: a bulk load into an empty table keeps its indexes", "[lineage]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const auto before = record_indexes(db);
  for (const auto& index : records_indexes()) REQUIRE(before.count(index.name) == 1);
  test::load_train_slice(db, test::train_batch("a", 500, 50), 0, 0);
  CHECK(record_indexes(db) == before);
  CHECK(find_owner(db, "owner-3").size() == 10);
  CHECK(find_record(db, "a0").has_value());
}

TEST_CASE("lineage index: records and owners are found where they were put", "[lineage]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  test::load_train_slice(db, test::train_batch("a", 100, 10), 0, 1);
  test::load_train_slice(db, test::train_batch("b", 30, 3), 2, 3);  // an append: the table is no longer empty

  const auto r = find_record(db, "b7");
  REQUIRE(r.has_value());
  CHECK(r->owner == "owner-1");
  CHECK(r->slice.shard == 2);
  CHECK(r->slice.slice == 3);
  CHECK(r->row == 7);
  CHECK(r->label_name == "dog");
  CHECK(!r->deleted);
  CHECK(!find_record(db, "zzz").has_value());

  // owner-1 has 10 records in the first batch and 10 in the second.
  const auto owned = find_owner(db, "owner-1");
  CHECK(owned.size() == 20);
  std::set<int> shards;
  for (const auto& x : owned) shards.insert(x.slice.shard);
  CHECK(shards == std::set<int>{0, 2});

  const auto counts = split_counts(db);
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].kind == "train");
  CHECK(counts[0].records == 130);
  CHECK(counts[0].owners == 10);
}

TEST_CASE("lineage index: a record lists the components that saw its slice", "[lineage]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t seen = test::load_train_slice(db, test::train_batch("a", 10, 2), 0, 0);
  test::load_train_slice(db, test::train_batch("b", 10, 2), 0, 1);
  db.exec("INSERT INTO components (component_id, kind, shard, prefix, status, created_at) "
          "VALUES (7, 's3t', 0, '0', 'live', 'now')");
  Stmt edge = db.prepare(
      "INSERT INTO component_slices (component_id, slice_id, slice_hash) VALUES (7, ?, 'h0')");
  edge.bind(1, seen).run();

  const auto a = find_record(db, "a3");
  REQUIRE(a.has_value());
  REQUIRE(a->components.size() == 1);
  CHECK(a->components[0].component_id == 7);
  CHECK(a->components[0].status == "live");
  CHECK(a->components[0].slice_hash == "h0");
  CHECK(find_record(db, "b3")->components.empty());
}

TEST_CASE("lineage index: existing IDs and owner cells", "[lineage]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  test::load_train_slice(db, test::train_batch("a", 20, 4), 1, 2);
  ByteColumn probe;
  for (const char* id : {"a1", "new", "a5", "a7"}) probe.push(id);
  CHECK(existing_ids(db, probe, 2) == std::vector<std::string>{"a1", "a5"});
  const auto cells = owner_cells(db, 4);
  REQUIRE(cells.size() == 4);
  for (const auto& [owner, cell] : cells) CHECK(cell == 1 * 4 + 2);
}

TEST_CASE("lineage index: live rows are the file's rows minus the deleted ones", "[lineage]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  const int64_t s = test::load_train_slice(db, test::train_batch("a", 10, 5), 0, 0);
  const int64_t other = test::load_train_slice(db, test::train_batch("b", 4, 2), 0, 1);
  CHECK(live_rows(db, s) == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  db.exec("UPDATE records SET status = 1 WHERE id IN ('a0', 'a4', 'a5', 'a9', 'b1')");
  CHECK(live_rows(db, s) == std::vector<uint32_t>{1, 2, 3, 6, 7, 8});
  CHECK(live_rows(db, other) == std::vector<uint32_t>{0, 2, 3});
  // A purged record has left the file (row -1): it no longer counts against the rows.
  db.exec("UPDATE records SET row = -1 WHERE id = 'a9'");
  db.exec("UPDATE slices SET records = 9 WHERE slice_id = " + std::to_string(s));
  CHECK(live_rows(db, s) == std::vector<uint32_t>{1, 2, 3, 6, 7, 8});
  CHECK_THROWS_AS(live_rows(db, 999), Error);
}

TEST_CASE("lineage index: a record's file position is its row number less the purged ones below it", "[lineage]") {
  CHECK(row_position(0, {}) == 0);
  CHECK(row_position(5, {}) == 5);
  CHECK(row_position(5, {1, 3}) == 3);
  CHECK(row_position(5, {1, 3, 5, 7}) == 3);  // a purged number itself is not below
  CHECK(row_position(9, {1, 3, 5, 7}) == 5);
}
