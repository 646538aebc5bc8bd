// `lethe privacy epsilon | noise`: the accountant as scripts use it, without a workspace.
// The figures are Opacus's published RDP value (see tests/unit/rdp_accountant_test.cpp [O1]).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/support/lethe_cli.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

TEST_CASE("privacy: epsilon and noise from the command line, JSON for scripts, bad inputs refused", "[privacy]") {
  test::TempDir dir;
  const fs::path none = dir / "no-workspace";
  const auto e = lethe_json(none, {"privacy", "epsilon", "--noise-multiplier", "1.5", "--sample-rate", "0.04",
                                   "--steps", "2250", "--delta", "1e-5"});
  CHECK(e["epsilon"].get<double>() == Approx(7.32911117143).epsilon(1e-9));
  CHECK(e["accountant"] == "rdp");
  const auto n = lethe_json(none, {"privacy", "noise", "--target-epsilon", "7.32911117143", "--sample-rate", "0.04",
                                   "--steps", "2250", "--delta", "1e-5"});
  CHECK(n["noise_multiplier"].get<double>() == Approx(1.5).epsilon(1e-5));
  CHECK(n["epsilon"].get<double>() <= 7.32911117143);
  CHECK(!fs::exists(none));  // nothing written

  // The PRV accountant, on a value of Opacus's PRV table (tests/unit/prv_accountant_test.cpp).
  const auto prv = lethe_json(none, {"privacy", "epsilon", "--noise-multiplier", "1.5", "--sample-rate", "0.05",
                                     "--steps", "1000", "--delta", "1e-6", "--accountant", "prv"});
  CHECK(prv["accountant"] == "prv");
  CHECK(prv["epsilon"].get<double>() == Approx(6.20996924657726712126759593957).margin(1e-5));
  const auto prv_noise = lethe_json(none, {"privacy", "noise", "--target-epsilon", "0.3", "--sample-rate", "0.01",
                                           "--steps", "1000", "--delta", "1e-12", "--accountant", "prv"});
  CHECK(prv_noise["epsilon"].get<double>() <= 0.3);  // below RDP's floor at this delta
  CHECK(lethe_in(none, {"privacy", "epsilon", "--noise-multiplier", "1", "--sample-rate", "0.1", "--steps", "10",
                        "--delta", "1e-5", "--accountant", "moments"}).exit_code == 2);

  // RDP's floor at delta 1e-12: no noise reaches 0.3; the message says what would.
  const auto floor = lethe_in(none, {"privacy", "noise", "--target-epsilon", "0.3", "--sample-rate", "0.01",
                                     "--steps", "1000", "--delta", "1e-12"});
  CHECK(floor.exit_code == 2);
  CHECK_THAT(floor.err, Catch::Contains("cannot be reached") && Catch::Contains("larger delta"));
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"privacy", "noise", "--target-epsilon", "0", "--sample-rate", "0.01", "--steps", "10", "--delta", "1e-5"},
           {"privacy", "noise", "--target-epsilon", "-1", "--sample-rate", "0.01", "--steps", "10", "--delta", "1e-5"},
           {"privacy", "epsilon", "--noise-multiplier", "1", "--sample-rate", "0.01", "--steps", "10", "--delta", "1"},
           {"privacy", "epsilon", "--noise-multiplier", "1", "--sample-rate", "1.5", "--steps", "10", "--delta", "1e-5"},
           {"privacy", "epsilon", "--noise-multiplier", "-1", "--sample-rate", "0.1", "--steps", "10", "--delta", "1e-5"},
           {"privacy", "epsilon", "--sample-rate", "0.1", "--steps", "10", "--delta", "1e-5"}}) {
    INFO(bad[1] << " " << bad[3] << " " << bad[5]);
    CHECK(lethe_in(none, bad).exit_code == 2);
  }
}
