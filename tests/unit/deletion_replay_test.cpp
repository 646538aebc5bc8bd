// The saved deletion replay (reports/deletion-replay.json) that `lethe report` charts: it is read
// back from disk, so anything malformed is refused naming the file and field before the report
// indexes its per-point lists.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/unlearning/deletion_replay.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

ReplayResult two_points() {
  ReplayResult r;
  r.distribution = "uniform";
  r.requests = {0, 5};
  r.records = {0, 5};
  r.test_records = 100;
  r.curves.push_back({"s3t", {0.8, std::nan("")}, {4, 0}, {0, 1234.5}});
  return r;
}

}  // namespace

TEST_CASE("deletion replay: what replay_to_json writes reads back unchanged", "[replay]") {
  const ReplayResult r = replay_from_json(replay_to_json(two_points()));
  CHECK(r.requests == two_points().requests);
  CHECK(r.records == two_points().records);
  CHECK(r.test_records == 100);
  REQUIRE(r.curves.size() == 1);
  CHECK(r.curves[0].accuracy[0] == 0.8);
  CHECK(std::isnan(r.curves[0].accuracy[1]));
  CHECK(r.curves[0].live_shards == std::vector<int>{4, 0});
  CHECK(r.curves[0].retrain_samples == std::vector<double>{0, 1234.5});
}

TEST_CASE("deletion replay: a malformed saved replay is an integrity error naming the file and field",
          "[replay]") {
  test::TempDir dir;
  const fs::path file = dir / "deletion-replay.json";
  const nlohmann::json good = replay_to_json(two_points());
  const auto refused = [&](const std::string& text, const std::string& field) {
    INFO(text);
    write_file_atomic(file, text);
    try {
      read_replay(file);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kIntegrity);
      CHECK_THAT(e.what(), Catch::Contains(file.string()) && Catch::Contains(field));
    }
  };
  const auto with = [&](const nlohmann::json::json_pointer& at, const nlohmann::json& value) {
    nlohmann::json j = good;
    j[at] = value;
    return j.dump();
  };
  refused("{\"requests\": [0, 1", "JSON");
  refused("[]", "object");
  refused(with(nlohmann::json::json_pointer("/requests"), nlohmann::json::array()), "requests");  // back() of nothing
  refused(with(nlohmann::json::json_pointer("/records"), {0}), "records");
  refused(with(nlohmann::json::json_pointer("/requests"), {0, 1e300}), "requests");  // no integer
  refused(with(nlohmann::json::json_pointer("/requests"), {0, -5}), "requests");
  refused(with(nlohmann::json::json_pointer("/test_records"), "many"), "test_records");
  refused(with(nlohmann::json::json_pointer("/curves/0/accuracy"), {0.5}), "curves[0].accuracy");  // accuracy[p]
  refused(with(nlohmann::json::json_pointer("/curves/0/accuracy"), {0.5, 7}), "curves[0].accuracy");
  refused(with(nlohmann::json::json_pointer("/curves/0/live_shards"), {1, 2, 3}), "curves[0].live_shards");
  refused(with(nlohmann::json::json_pointer("/curves/0/live_shards"), {int64_t{1}, int64_t{1} << 40}), "curves[0].live_shards");
  refused(with(nlohmann::json::json_pointer("/curves/0/retrain_samples"), {1, nullptr}), "curves[0].retrain_samples");
  nlohmann::json no_mode = good;
  no_mode["curves"][0].erase("mode");
  refused(no_mode.dump(), "curves[0].mode");
}
