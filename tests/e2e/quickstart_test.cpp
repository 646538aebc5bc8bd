// `lethe quickstart`: the main job in one command, safe to re-run, never destroying a
// workspace it did not create.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "src/common/fs.h"
#include "tests/support/run_process.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::run_lethe;

TEST_CASE("quickstart: runs, reports its stages and can be re-run", "[quickstart]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  for (int run = 0; run < 2; ++run) {
    // A smaller run than `make demo`'s, with the same stages.
    const auto r = run_lethe({"--json", "--workspace", ws, "--set", "data.limit=6000", "--set",
                              "pretrain.epochs=1", "--set", "train.epochs_per_stage=1", "quickstart"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(test::lines_of(r.out).back());
    CHECK(j["workspace"] == ws);
    REQUIRE(j["steps"].size() == 5);
    CHECK(j["steps"][0]["step"] == "init");
    CHECK(j["steps"][1]["step"] == "ingest");
    CHECK(j["steps"][2]["step"] == "pretrain");
    // The base learned something: clearly better than always guessing the commonest label.
    CHECK(j["steps"][2]["test_accuracy"].get<double>() > j["steps"][2]["majority_accuracy"].get<double>() + 0.2);
    CHECK(j["steps"][3]["step"] == "train");
    CHECK(j["steps"][3]["ranks"] == 2);  // the training job ran as mpirun -np 2
    CHECK(j["steps"][4]["step"] == "eval");
    CHECK(j["steps"][4]["live_shards"] == 4);
    // Training learned: the served ensemble beats the base it started from. Measured 0.547 vs
    // the base's 0.442 (seeded); a trainer that changes nothing serves the base's accuracy.
    CHECK(j["steps"][4]["accuracy"].get<double>() > j["steps"][2]["test_accuracy"].get<double>() + 0.05);
  }
}

TEST_CASE("quickstart --text: fortunes on the imported all-MiniLM-L6-v2 end to end, the ensemble far above the "
          "majority class",
          "[quickstart][bert][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  test::TempDir dir;
  // One sequence per shard instead of two: half the training, the same path.
  const auto r = run_lethe({"--json", "--workspace", (dir / "ws").string(), "--set", "train.sequences=1",
                            "quickstart", "--text", "--ranks", "1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(test::lines_of(r.out).back());
  REQUIRE(j["steps"].size() == 5);
  CHECK_THAT(j["steps"][1]["source"].get<std::string>(), Catch::StartsWith("fortunes"));
  CHECK(j["steps"][2]["step"] == "import-base");
  CHECK(j["steps"][2]["arch"] == "bert");
  CHECK(j["steps"][4]["live_shards"] == 4);
  // Six categories, the largest a quarter of the test split: the pretrained encoder with one
  // epoch of LoRA per stage is far above it (74.8% with two sequences, measured 2026-12-02).
  CHECK(j["steps"][4]["accuracy"].get<double>() > j["steps"][4]["majority_accuracy"].get<double>() + 0.3);

  // Without the model it is a usage error naming what to pass.
  const auto missing = run_lethe({"--workspace", (dir / "ws2").string(), "quickstart", "--text", "--base",
                                  (dir / "nowhere").string()});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--base DIR"));
}

TEST_CASE("quickstart: refuses to replace a workspace it did not create", "[quickstart]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  REQUIRE(run_lethe({"--workspace", ws, "init"}).exit_code == 0);
  const auto r = run_lethe({"--workspace", ws, "quickstart"});
  CHECK(r.exit_code == 6);
  CHECK_THAT(r.err, Catch::Contains("not by quickstart"));
}
