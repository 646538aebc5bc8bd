// The ingest library (src/ingest/ingest.h) on small text sources: what it records (rows, slices,
// plan), and that a bad source is an input error naming where it is bad, with nothing written.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "src/index/lineage_index.h"
#include "src/ingest/ingest.h"
#include "src/workspace/layout.h"
#include "tests/support/small_workspace.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

// Every file under data/ with its bytes' hash, the index's records and the ledger's length.
struct Snapshot {
  std::map<std::string, std::string> files;
  int64_t records = 0, ledger = 0;
  bool operator==(const Snapshot& o) const { return files == o.files && records == o.records && ledger == o.ledger; }
};

Snapshot snapshot(const fs::path& root) {
  Snapshot s;
  for (const auto& e : fs::recursive_directory_iterator(data_dir(root))) {
    if (e.is_regular_file()) s.files[e.path().string()] = hash_file(e.path());
  }
  Workspace ws = open_workspace(root);
  Stmt q = ws.db.prepare("SELECT COUNT(*) FROM records");
  q.step();
  s.records = q.int64(0);
  s.ledger = static_cast<int64_t>(read_ledger(ws.db).size());
  return s;
}

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected an error");
  return Error(ErrorKind::kInternal, "");
}

}  // namespace

TEST_CASE("ingest: every record gets a row of its slice's file, the slices and the plan are recorded", "[ingest]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  const Config config = test::small_config(2, 3, 1);
  test::create_small_workspace(root, config, test::text_records(0, 90, 30));
  Workspace ws = open_workspace(root);
  const std::vector<SliceRow> slices = list_slices(ws.db);
  REQUIRE(slices.size() == 6);
  std::set<std::pair<int, int>> cells;
  uint64_t total = 0;
  for (const SliceRow& s : slices) {
    CHECK(s.kind == "train");
    cells.insert({s.shard, s.slice});
    total += s.records;
    CHECK(s.live == s.records);
    CHECK(hash_file(root / s.file) == s.hash);
    // The file holds, row by row, the records the index places there.
    const RecordBatch file = read_slice_file(root / s.file);
    REQUIRE(file.size() == s.records);
    for (size_t row = 0; row < file.size(); ++row) {
      const std::string id(file.ids.at(row));
      const auto where = find_record(ws.db, id);
      REQUIRE(where);
      CHECK(where->slice.slice_id == s.slice_id);
      CHECK(where->row == static_cast<int64_t>(row));
      CHECK(std::string(file.payloads.at(row)) == test::payload_of(std::stoll(id.substr(4))));
    }
  }
  CHECK(cells.size() == 6);
  CHECK(total == 90);
  CHECK(get_meta(ws.db, "plan.shards") == "2");
  CHECK(get_meta(ws.db, "plan.slices") == "3");
  CHECK(get_meta(ws.db, "plan.strategy") == "random");
  CHECK(get_meta(ws.db, "plan.seed") == std::to_string(config.plan.seed));
  CHECK(label_names(ws.db) == std::vector<std::string>{"a", "b"});
  bool logged = false;
  for (const LedgerEntry& e : read_ledger(ws.db)) logged = logged || e.event == "ingest";
  CHECK(logged);
}

TEST_CASE("ingest: a malformed line is an input error naming the file and line", "[ingest][bad-input]") {
  test::TempDir dir;
  const fs::path file = dir / "people.jsonl";
  test::write_text(file, "{\"id\": \"a\", \"owner\": \"o\", \"text\": \"x\", \"label\": \"l\"}\n"
                         "{\"id\": \"b\", \"owner\": \"o\", \"text\": \"y\", \"label\": \"l\"}\n"
                         "{\"id\": \"c\", \"owner\": \"o\", \"text\": \"z\", \"label\": \n");
  Config config = test::small_config(1, 1, 1);
  config.data.path = file.string();
  const Error e = error_of([&] { load_source(config.data); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK_THAT(e.what(), Catch::Contains(file.string() + ":3"));
}

TEST_CASE("ingest: duplicate or existing IDs are an input error naming them, and nothing is written",
          "[ingest][bad-input]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  const Config config = test::small_config(2, 2, 1);
  test::create_small_workspace(root, config, test::text_records(0, 40, 40));
  const Snapshot before = snapshot(root);
  SECTION("an ID twice in the source") {
    LoadedSource twice = test::text_records(100, 10, 10);
    twice.records.ids = ByteColumn();
    for (int i = 0; i < 10; ++i) twice.records.ids.push(i == 7 ? "rec-103" : "rec-" + std::to_string(100 + i));
    const Error e = error_of([&] { test::ingest_more(root, config, std::move(twice)); });
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("'rec-103'"));
  }
  SECTION("an ID the workspace already holds") {
    const Error e = error_of([&] { test::ingest_more(root, config, test::text_records(35, 10, 10)); });
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("'rec-35'"));
  }
  CHECK(snapshot(root) == before);
}

TEST_CASE("ingest: data.category_limit keeps the same hash-chosen records of each category", "[ingest]") {
  test::TempDir dir;
  std::string big, small;
  for (int i = 0; i < 20; ++i) big += "big fortune " + std::to_string(i) + "\n%\n";
  for (int i = 0; i < 3; ++i) small += "small fortune " + std::to_string(i) + "\n%\n";
  test::write_text(dir / "big", big);
  test::write_text(dir / "small", small);
  DataConfig data;
  data.source = "fortunes";
  data.path = dir.path().string();
  auto ids_of = [&](int64_t limit) {
    data.category_limit = limit;
    const LoadedSource s = load_source(data);
    std::map<int32_t, std::set<std::string>> ids;
    for (size_t i = 0; i < s.records.size(); ++i) ids[s.records.labels[i]].insert(std::string(s.records.ids.at(i)));
    return ids;
  };
  const auto four = ids_of(4), five = ids_of(5), all = ids_of(0);
  REQUIRE(all.at(0).size() == 20);
  CHECK(four.at(0).size() == 4);
  CHECK(five.at(0).size() == 5);
  CHECK(four.at(1).size() == 3);  // a category with fewer records keeps them all
  CHECK(std::includes(five.at(0).begin(), five.at(0).end(), four.at(0).begin(), four.at(0).end()));
  // Not the first records of the file: the choice is a seeded hash, and another seed differs.
  CHECK(four.at(0) != std::set<std::string>{"big-00000", "big-00001", "big-00002", "big-00003"});
  data.seed = 7;
  CHECK(ids_of(4).at(0) != four.at(0));
}
