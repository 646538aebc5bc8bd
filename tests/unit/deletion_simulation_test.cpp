// The deletion simulator: closed forms, Monte Carlo means against them, live-prefix curves,
// determinism, BMS against cyclic under skew, and option validation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "shards/deletion_simulation.h"
#include "src/common/error.h"

using namespace lethe;

namespace {

// The usage error `f` throws; FAILs when it throws nothing or another kind.
void require_usage_error(const std::function<void()>& f, const std::string& names) {
  try {
    f();
    FAIL("accepted; expected an error naming " << names);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK_THAT(e.what(), Catch::Contains(names));
  }
}

SimulationOptions options(int m, int L, int B, const std::string& mode = "s3t") {
  SimulationOptions o;
  o.shards = m;
  o.slices = L;
  o.sequences = B;
  o.mode = mode;
  return o;
}

// Within 2% of the closed form, with a standard error small enough (< 0.5%) that 2% is more
// than four of them: the check is not luck.
void check_mean_matches_closed_form(const SimulationResult& r) {
  INFO("mean " << r.mean_deletions_to_failure << " +- " << r.stderr_deletions_to_failure
               << ", closed form " << r.closed_form);
  REQUIRE(std::isfinite(r.closed_form));
  CHECK(r.stderr_deletions_to_failure < 0.005 * r.closed_form);
  CHECK(r.stderr_deletions_to_failure > 0);
  CHECK(std::abs(r.mean_deletions_to_failure - r.closed_form) < 0.02 * r.closed_form);
}

}  // namespace

TEST_CASE("simulation: harmonic numbers", "[simulation]") {
  CHECK(harmonic(0) == 0.0);
  CHECK(harmonic(1) == 1.0);
  CHECK(harmonic(2) == Approx(1.5));
  CHECK(harmonic(4) == Approx(25.0 / 12));
  CHECK(harmonic(10) == Approx(7381.0 / 2520));
  CHECK(harmonic(100000) == Approx(std::log(100000.0) + 0.5772156649 + 0.5 / 100000).epsilon(1e-9));
  require_usage_error([] { harmonic(-1); }, "negative");
}

TEST_CASE("simulation: closed forms", "[simulation]") {
  CHECK(closed_form_deletions_to_failure(4, 4, 2, "s3t") == Approx(16 * 761.0 / 280));  // 16 H(8)
  CHECK(closed_form_deletions_to_failure(4, 4, 2, "sisa") == Approx(25.0 / 3));        // 4 H(4)
  CHECK(closed_form_deletions_to_failure(4, 9, 3, "sisa") == Approx(25.0 / 3));        // L, B unused
  CHECK(closed_form_deletions_to_failure(2, 3, 5, "s3t") == Approx(6 * 49.0 / 20));     // B' = 3: 6 H(6)
  CHECK(closed_form_deletions_to_failure(2, 3, 5, "s3t") == closed_form_deletions_to_failure(2, 3, 3, "s3t"));
  CHECK(closed_form_deletions_to_failure(1, 5, 1, "s3t") == Approx(5.0));  // one coupon among 5
  require_usage_error([] { closed_form_deletions_to_failure(4, 4, 2, "ssa"); }, "mode");
  require_usage_error([] { closed_form_deletions_to_failure(0, 4, 2, "s3t"); }, "shards");
}

TEST_CASE("simulation: uniform cyclic s3t matches m L H(m B')", "[simulation]") {
  struct Case {
    int m, L, B;
  };
  for (const Case c : {Case{4, 4, 2}, Case{3, 4, 6}, Case{8, 8, 1}, Case{2, 5, 5}, Case{1, 3, 3}}) {
    INFO("m " << c.m << " L " << c.L << " B " << c.B);
    SimulationOptions o = options(c.m, c.L, c.B);
    o.trials = 20000;
    const SimulationResult r = simulate_deletions(o);
    CHECK(r.closed_form == Approx(closed_form_deletions_to_failure(c.m, c.L, c.B, "s3t")));
    REQUIRE(r.sequences.size() == static_cast<size_t>(c.m));
    CHECK(r.sequences[0].size() == static_cast<size_t>(c.B));
    check_mean_matches_closed_form(r);
  }
}

TEST_CASE("simulation: uniform sisa matches m H(m)", "[simulation]") {
  for (int m : {1, 4, 8}) {
    INFO("m " << m);
    SimulationOptions o = options(m, 5, 3, "sisa");
    o.trials = 10000;
    o.selection = "ignored for sisa";
    const SimulationResult r = simulate_deletions(o);
    CHECK(r.closed_form == Approx(m * harmonic(m)));
    CHECK(r.sequences.empty());
    if (m == 1) {
      CHECK(r.mean_deletions_to_failure == 1.0);  // the first deletion kills the only shard
      CHECK(r.stderr_deletions_to_failure == 0.0);
    } else {
      check_mean_matches_closed_form(r);
    }
  }
}

TEST_CASE("simulation: uniform bms has distinct first slices and the same closed form", "[simulation]") {
  SimulationOptions o = options(4, 6, 3);
  o.selection = "bms";
  o.trials = 10000;
  const SimulationResult r = simulate_deletions(o);
  REQUIRE(r.sequences.size() == 4);
  for (const auto& shard : r.sequences) {
    REQUIRE(shard.size() == 3);
    CHECK(std::set<int>{shard[0][0], shard[1][0], shard[2][0]}.size() == 3);
  }
  CHECK(r.closed_form == Approx(closed_form_deletions_to_failure(4, 6, 3, "s3t")));
  check_mean_matches_closed_form(r);
}

TEST_CASE("simulation: same seed same result, another seed another", "[simulation]") {
  SimulationOptions o = options(4, 5, 3);
  o.trials = 300;
  o.deletions = 40;
  const SimulationResult a = simulate_deletions(o), b = simulate_deletions(o);
  CHECK(a.mean_deletions_to_failure == b.mean_deletions_to_failure);
  CHECK(a.stddev_deletions_to_failure == b.stddev_deletions_to_failure);
  CHECK(a.mean_live_prefix == b.mean_live_prefix);
  CHECK(a.live_shards == b.live_shards);
  o.seed = 43;
  const SimulationResult c = simulate_deletions(o);
  CHECK(c.mean_deletions_to_failure != a.mean_deletions_to_failure);
  CHECK(c.mean_live_prefix != a.mean_live_prefix);
  // Explicit equal weights are the uniform default, and doubling every weight changes nothing.
  o.seed = 42;
  const std::vector<std::vector<double>> ones(4, std::vector<double>(5, 1.0));
  const std::vector<std::vector<double>> twos(4, std::vector<double>(5, 2.0));
  CHECK(simulate_deletions(o, ones).mean_live_prefix == a.mean_live_prefix);
  CHECK(simulate_deletions(o, twos).mean_deletions_to_failure == a.mean_deletions_to_failure);
}

TEST_CASE("simulation: live-prefix curves start full and shrink", "[simulation]") {
  SimulationOptions o = options(4, 4, 1);
  o.trials = 10000;
  o.deletions = 200;
  const SimulationResult r = simulate_deletions(o);
  REQUIRE(r.mean_live_prefix.size() == 201);
  REQUIRE(r.live_shards.size() == 201);
  CHECK(r.mean_live_prefix[0] == 4.0);
  CHECK(r.live_shards[0] == 4.0);
  for (size_t k = 1; k < r.mean_live_prefix.size(); ++k) {
    CHECK(r.mean_live_prefix[k] <= r.mean_live_prefix[k - 1]);
    CHECK(r.live_shards[k] <= r.live_shards[k - 1]);
  }
  CHECK(r.mean_live_prefix[10] < r.mean_live_prefix[0]);
  // One deletion, one sequence per shard: the hit shard keeps as many stages as the hit slice's
  // position (uniform over 0..3), the other three keep all 4: (3 * 4 + 1.5) / 4.
  CHECK(r.mean_live_prefix[1] == Approx(3.375).margin(0.02));
  CHECK(r.live_shards[1] == Approx(4 - 0.25).margin(0.02));  // killed when the first slice is hit
  // 200 uniform deletions over 16 cells miss a given cell with probability (15/16)^200 ~ 2.5e-6.
  CHECK(r.mean_live_prefix[200] == 0.0);
  CHECK(r.live_shards[200] == 0.0);

  // Sisa: a shard holds all L stages or none, so the two curves agree.
  o.mode = "sisa";
  o.deletions = 20;
  const SimulationResult s = simulate_deletions(o);
  for (size_t k = 0; k < s.live_shards.size(); ++k) {
    CHECK(s.mean_live_prefix[k] == Approx(4.0 * s.live_shards[k] / 4.0));
  }
  CHECK(s.live_shards[1] == 3.0);  // the first deletion always kills one shard
}

TEST_CASE("simulation: bms outlives cyclic when deletions concentrate on a few slices", "[simulation]") {
  // Slices 0 and 7 of every shard get nearly all deletions; cyclic puts exactly those first
  // (0 1 ... 7 and 7 0 ... 6), bms puts cold slices first.
  const int m = 4, L = 8;
  std::vector<std::vector<double>> p(m, std::vector<double>(L, 0.01));
  for (auto& row : p) row[0] = row[7] = 1.0;
  SimulationOptions o = options(m, L, 2);
  o.trials = 2000;
  o.deletions = 30;
  const SimulationResult cyclic = simulate_deletions(o, p);
  o.selection = "bms";
  o.expected_deletions = 2;
  const SimulationResult bms = simulate_deletions(o, p);
  INFO("cyclic " << cyclic.mean_deletions_to_failure << ", bms " << bms.mean_deletions_to_failure);
  CHECK(std::isnan(cyclic.closed_form));
  for (const auto& shard : bms.sequences) {
    for (const Sequence& s : shard) CHECK((s.front() != 0 && s.front() != 7));
  }
  CHECK(bms.mean_deletions_to_failure > 5 * cyclic.mean_deletions_to_failure);
  CHECK(bms.mean_live_prefix[30] > cyclic.mean_live_prefix[30]);
  CHECK(bms.live_shards[30] > cyclic.live_shards[30]);
}

TEST_CASE("simulation: a shard that can never die means no failure", "[simulation]") {
  // Shard 1's first slices never get deletions: the system outlives any count of them.
  std::vector<std::vector<double>> p = {{1, 1, 1}, {0, 1, 0}};
  SimulationOptions o = options(2, 3, 2);  // cyclic: 0 1 2 and 2 0 1
  o.trials = 50;
  o.deletions = 100;
  const SimulationResult r = simulate_deletions(o, p);
  CHECK(std::isinf(r.mean_deletions_to_failure));
  CHECK(std::isnan(r.stderr_deletions_to_failure));
  CHECK(r.live_shards[100] == 1.0);  // shard 0 dead, shard 1 alive
  // Shard 1 loses slice 1 only: stage 1 of 0 1 2 and stages 1-2 of 2 0 1 stay, so 2 live.
  CHECK(r.mean_live_prefix[100] == Approx(1.0));
}

TEST_CASE("simulation: zipf weights are a deterministic permutation of 1/rank^s", "[simulation]") {
  const auto a = zipf_probabilities(3, 4, 1.2, 7), b = zipf_probabilities(3, 4, 1.2, 7);
  CHECK(a == b);
  CHECK(zipf_probabilities(3, 4, 1.2, 8) != a);
  REQUIRE(a.size() == 3);
  std::vector<double> all;
  for (const auto& row : a) {
    REQUIRE(row.size() == 4);
    all.insert(all.end(), row.begin(), row.end());
  }
  std::sort(all.begin(), all.end(), std::greater<>());
  double sum = 0;
  for (double x : all) sum += x;
  CHECK(sum == Approx(1.0));
  for (size_t r = 0; r < all.size(); ++r) {
    CHECK(all[r] / all[0] == Approx(std::pow(static_cast<double>(r + 1), -1.2)));
  }
  for (const auto& row : zipf_probabilities(2, 3, 0.0, 1)) {
    for (double x : row) CHECK(x == Approx(1.0 / 6));
  }
  // Under zipf deletions the simulator runs, and the closed form no longer applies.
  SimulationOptions o = options(3, 4, 2);
  o.trials = 200;
  const SimulationResult r = simulate_deletions(o, a);
  CHECK(std::isnan(r.closed_form));
  CHECK(r.mean_deletions_to_failure >= 3);
  require_usage_error([] { zipf_probabilities(2, 3, -1, 1); }, "exponent");
  require_usage_error([] { zipf_probabilities(0, 3, 1, 1); }, "shards");
}

TEST_CASE("simulation: bad options are usage errors naming the option", "[simulation]") {
  auto with = [](const std::function<void(SimulationOptions&)>& change) {
    SimulationOptions o;
    o.trials = 10;
    change(o);
    return [o] { simulate_deletions(o); };
  };
  require_usage_error(with([](SimulationOptions& o) { o.shards = 0; }), "shards");
  require_usage_error(with([](SimulationOptions& o) { o.slices = 0; }), "slices");
  require_usage_error(with([](SimulationOptions& o) { o.sequences = 0; }), "sequences");
  require_usage_error(with([](SimulationOptions& o) { o.trials = 0; }), "trials");
  require_usage_error(with([](SimulationOptions& o) { o.deletions = -1; }), "deletions");
  require_usage_error(with([](SimulationOptions& o) { o.mode = "sisa2"; }), "mode");
  require_usage_error(with([](SimulationOptions& o) { o.selection = "random"; }), "selection");
  require_usage_error(with([](SimulationOptions& o) { o.sequences = 30; }), "sequences");  // > 4! orders
  require_usage_error(with([](SimulationOptions& o) {
                        o.selection = "bms";
                        o.sequences = 5;
                      }),
                      "sequences");
  require_usage_error(with([](SimulationOptions& o) {
                        o.selection = "bms";
                        o.expected_deletions = -1;
                      }),
                      "expected_deletions");
  // Sisa ignores sequences and selection.
  CHECK_NOTHROW(simulate_deletions([] {
    SimulationOptions o;
    o.mode = "sisa";
    o.sequences = 0;
    o.selection = "whatever";
    o.trials = 10;
    return o;
  }()));

  SimulationOptions o;  // 4 x 4
  o.trials = 10;
  const std::vector<double> row(4, 1.0);
  require_usage_error([&] { simulate_deletions(o, {row, row, row}); }, "probabilities");
  require_usage_error([&] { simulate_deletions(o, {row, row, row, {1, 1, 1}}); }, "probabilities row 3");
  require_usage_error([&] { simulate_deletions(o, {row, row, {1, -1, 1, 1}, row}); }, "probabilities[2][1]");
  require_usage_error([&] { simulate_deletions(o, {row, {1, NAN, 1, 1}, row, row}); }, "probabilities[1][1]");
  const std::vector<double> zero(4, 0.0);
  require_usage_error([&] { simulate_deletions(o, {zero, zero, zero, zero}); }, "positive");
}
