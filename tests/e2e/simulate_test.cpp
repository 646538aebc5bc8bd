// `lethe simulate`: the Monte Carlo against its closed forms through the CLI contract, bad
// options, and the replay of deletions on a trained workspace (--with-eval).
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "src/index/lineage_index.h"
#include "src/common/fs.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

double harmonic(int n) {
  double h = 0;
  for (int i = 1; i <= n; ++i) h += 1.0 / i;
  return h;
}

}  // namespace

TEST_CASE("simulate: uniform deletions match m L H(m B') and SISA's m H(m) within 2%", "[simulate]") {
  test::TempDir dir;
  const fs::path ws = dir / "none";  // no workspace: the shape comes from the flags
  const auto s3t = lethe_json(ws, {"simulate", "--shards", "4", "--slices", "4", "--budget", "2", "--trials", "4000"});
  const double closed = 4 * 4 * harmonic(4 * 2);
  CHECK(s3t["closed_form"].get<double>() == Approx(closed).epsilon(1e-12));
  CHECK(std::abs(s3t["mean_deletions_to_failure"].get<double>() - closed) / closed < 0.02);
  CHECK(s3t["mean_live_prefix"][0] == 4.0);
  CHECK(std::abs(s3t["sisa"]["mean_deletions_to_failure"].get<double>() - 4 * harmonic(4)) / (4 * harmonic(4)) < 0.02);
  // B > L: only L distinct first slices per shard.
  const auto wide = lethe_json(ws, {"simulate", "--shards", "3", "--slices", "3", "--budget", "4", "--trials", "4000"});
  CHECK(std::abs(wide["mean_deletions_to_failure"].get<double>() - 9 * harmonic(9)) / (9 * harmonic(9)) < 0.02);
  const auto sisa = lethe_json(ws, {"simulate", "--mode", "sisa", "--shards", "8", "--trials", "4000"});
  CHECK(std::abs(sisa["mean_deletions_to_failure"].get<double>() - 8 * harmonic(8)) / (8 * harmonic(8)) < 0.02);
  // Skewed deletions: bms puts the likely-deleted slices late and survives longer than cyclic.
  const auto cyclic = lethe_json(ws, {"simulate", "--shards", "4", "--slices", "6", "--budget", "3", "--distribution",
                                      "zipf", "--zipf-exponent", "2", "--trials", "2000"});
  const auto bms = lethe_json(ws, {"simulate", "--shards", "4", "--slices", "6", "--budget", "3", "--distribution",
                                   "zipf", "--zipf-exponent", "2", "--selection", "bms", "--trials", "2000"});
  CHECK(cyclic["closed_form"].is_null());
  CHECK(bms["mean_deletions_to_failure"].get<double>() > cyclic["mean_deletions_to_failure"].get<double>());
}

TEST_CASE("simulate: bad options are usage errors", "[simulate]") {
  test::TempDir dir;
  const fs::path ws = dir / "none";
  CHECK(lethe_in(ws, {"simulate", "--shards", "0"}).exit_code == 2);
  CHECK(lethe_in(ws, {"simulate", "--distribution", "poisson"}).exit_code == 2);
  const auto owner = lethe_in(ws, {"simulate", "--distribution", "owner"});
  CHECK(owner.exit_code == 2);
  CHECK_THAT(owner.err, Catch::Contains("workspace"));
  CHECK(lethe_in(ws, {"simulate", "--budget", "30", "--slices", "3", "--selection", "bms"}).exit_code == 2);
}

TEST_CASE("simulate: --with-eval replays deletions on every trained mode without changing the workspace",
          "[simulate][eval][mpi][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  const std::vector<std::string> small = {"--set", "plan.slices=2", "--set", "model.num_layers=2",
                                          "--set", "train.epochs_per_stage=1", "--set", "pretrain.epochs=1"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.begin(), small.begin(), small.end());
    return a;
  };
  test::copy_trained_workspace(ws);  // Fashion-MNIST, s3t trained (4 shards x 2 slices)
  for (const char* mode : {"sisa", "full"}) lethe_json(ws, with({"train", "--mode", mode}));
  const auto status_before = lethe_json(ws, {"status"});

  const auto r = lethe_json(ws, with({"simulate", "--with-eval", "--deletions", "12", "--batches", "4"}));
  CHECK(r["requests"] == nlohmann::json::array({0, 3, 6, 9, 12}));
  CHECK(r["records"][4] == 12);
  REQUIRE(r["curves"].size() == 3);
  for (const auto& c : r["curves"]) {
    INFO(c.dump());
    // Before any deletion, the replay serves exactly what eval serves.
    const auto e = lethe_json(ws, with({"eval", "--mode", c["mode"].get<std::string>()}));
    CHECK(c["accuracy"][0].get<double>() == Approx(e["accuracy"].get<double>()).margin(1e-12));
    CHECK(c["live_shards"][0] == e["live_shards"]);
    CHECK(c["retrain_samples"][0] == 0);
    for (size_t p = 1; p < 5; ++p) {
      CHECK(c["retrain_samples"][p].get<double>() > 0);
      CHECK(c["live_shards"][p].get<int>() <= c["live_shards"][p - 1].get<int>());
      if (c["live_shards"][p] == 0) CHECK(c["accuracy"][p].is_null());  // nothing serves: no accuracy
    }
    // s3t and sisa are measured on what still serves; full is not retrained by the replay, so its
    // line is its accuracy before the deletions, and says so.
    if (c["mode"] == "full") {
      CHECK(c.value("accuracy_basis", "") == "before_deletions");
      CHECK(c["accuracy"][4] == c["accuracy"][0]);
    } else {
      CHECK(c.value("accuracy_basis", "") == "served");
    }
  }
  CHECK(fs::exists(ws / "reports" / "deletion-replay.json"));
  // As one job over ranks (docs/cli.md): the test records spread over them, the same result.
  CHECK(test::mpirun_json(2, ws, with({"simulate", "--with-eval", "--deletions", "12", "--batches", "4"})) == r);
  // Read only: nothing was deleted or switched off.
  const auto status_after = lethe_json(ws, {"status"});
  CHECK(status_after["splits"] == status_before["splits"]);
  CHECK(status_after["training"] == status_before["training"]);
}
