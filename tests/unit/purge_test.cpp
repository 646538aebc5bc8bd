// The purge (src/workspace/purge.h): what a forget leaves in the slice files and the index, and
// what it costs. Cost is counted in SQLite page requests (cache hits and misses), which measure
// the work the statements did without depending on the machine's speed.
#include <catch2/catch.hpp>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "src/index/lineage_index.h"
#include "src/data/slice_file.h"
#include "src/ingest/ingest.h"
#include "src/unlearning/forget.h"
#include "src/workspace/purge.h"
#include "src/workspace/workspace.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

spdlog::logger& quiet() {
  static auto log = std::make_shared<spdlog::logger>("purge-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return *log;
}

// `n` text records rec-<first>..: every record its own owner, all in the train split.
LoadedSource records(int64_t first, int64_t n) {
  LoadedSource s;
  s.description = "test records";
  s.label_names = {"a", "b"};
  for (int64_t i = first; i < first + n; ++i) {
    s.records.ids.push("rec-" + std::to_string(i));
    s.records.owners.push("owner-" + std::to_string(i));
    s.records.payloads.push("payload of record " + std::to_string(i));
    s.records.labels.push_back(static_cast<int32_t>(i % 2));
    s.records.splits.push_back(Split::kTrain);
  }
  return s;
}

Config plan_config(int shards, int slices) {
  Config c;
  c.data.source = "jsonl";
  c.data.public_fraction = 0;
  c.data.test_fraction = 0;
  c.plan.shards = shards;
  c.plan.slices = slices;
  c.plan.strategy = "random";
  return c;
}

void ingest_into(const fs::path& root, const Config& config, LoadedSource src, bool append) {
  auto w = open_workspace_for_write(root, "test");
  IngestOptions io;
  io.append = append;
  io.progress.style = ProgressStyle::kSilent;
  ingest(w.ws, config, std::move(src), io, quiet());
}

// The record in the first row of some slice: purging it moves every other row of the slice up.
std::string first_row_record(Workspace& ws) {
  Stmt q = ws.db.prepare("SELECT id FROM records WHERE row = 0 ORDER BY slice_id LIMIT 1");
  REQUIRE(q.step());
  return q.text(0);
}

void forget_id(Workspace& ws, const std::string& id) {
  ForgetRequest req;
  req.ids = {id};
  req.request_id = "req-" + id;
  commit_forget(ws, req, 0);
}

struct PurgeCost {
  int64_t pages = 0;
  uint64_t slice_records = 0;
};

PurgeCost purge_cost(int64_t records_total, int shards, int slices) {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  const Config config = plan_config(shards, slices);
  create_workspace(root, config, {});
  ingest_into(root, config, records(0, records_total), false);
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
  const Config config = plan_config(1, 2);
  create_workspace(root, config, {});
  ingest_into(root, config, records(0, 200), false);
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
  ingest_into(root, config, records(200, 100), true);
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
