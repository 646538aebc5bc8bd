// The workspace plan and the recorded sequences (src/index/workspace_plan.h): what ingest and
// training write is what every reader gets back, and a workspace without them says so.
#include <catch2/catch.hpp>

#include <functional>
#include <nlohmann/json.hpp>

#include "src/common/error.h"
#include "src/index/lineage_index.h"
#include "src/index/workspace_plan.h"
#include "tests/support/error_kind.h"
#include "tests/support/bare_index.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

TEST_CASE("workspace plan: read back as written, before an ingest there is none, and reading it is a usage error",
          "[workspace_plan]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  CHECK_FALSE(find_plan(db).has_value());
  CHECK(test::kind_of([&] { read_plan(db); }) == ErrorKind::kUsage);
  CHECK_THROWS_WITH(read_plan(db), Catch::Contains("holds no data: run 'lethe ingest'") &&
                                       Catch::Contains(dir.path().string()));

  write_plan(db, {3, 5, "random", 18446744073709551615ULL});
  const WorkspacePlan p = read_plan(db);
  CHECK(p.shards == 3);
  CHECK(p.slices == 5);
  CHECK(p.strategy == "random");
  CHECK(p.seed == 18446744073709551615ULL);
  CHECK(get_meta(db, "plan.seed") == "18446744073709551615");  // the stored form appends compare against
  CHECK(find_plan(db)->slices == 5);
}

TEST_CASE("workspace plan: a mode's sequences are recorded per shard, an untrained mode has none (not found)",
          "[workspace_plan]") {
  test::TempDir dir;
  Db db = test::open_bare_index(dir);
  CHECK_FALSE(has_recorded_sequences(db, "s3t"));
  CHECK(test::kind_of([&] { recorded_sequences(db, "s3t"); }) == ErrorKind::kNotFound);

  const RecordedSequences seqs = {{0, {{0, 1, 2}, {2, 1, 0}}}, {1, {{1, 0, 2}}}};
  const nlohmann::json stored = record_sequences(db, "s3t", seqs);
  CHECK(stored == nlohmann::json::parse(R"({"0": [[0, 1, 2], [2, 1, 0]], "1": [[1, 0, 2]]})"));
  CHECK(has_recorded_sequences(db, "s3t"));
  CHECK_FALSE(has_recorded_sequences(db, "sisa"));
  CHECK(recorded_sequences(db, "s3t") == seqs);
}
