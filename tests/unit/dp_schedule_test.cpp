// The DP schedule (sampling rate, steps, noise for the target) and the group-privacy bound that
// DP2 reports after deletions.
#include <catch2/catch.hpp>

#include <cmath>

#include "src/common/error.h"
#include "src/privacy/dp_schedule.h"

using namespace lethe;

TEST_CASE("dp schedule: rate and steps from units and batch, noise the smallest that meets the target", "[privacy]") {
  PrivacyConfig p;
  p.target_epsilon = 2.0;
  p.delta = 1e-5;
  p.epochs = 3;
  const DpSchedule s = plan_dp_schedule(p, 1000, 32);
  CHECK(s.sample_rate == Approx(0.032));
  CHECK(s.steps == 3 * 32);  // ceil(1000 / 32) = 32 steps per epoch
  CHECK(s.spent.epsilon <= 2.0);
  CHECK(s.spent.epsilon > 1.99);
  CHECK(s.spent.accountant == "rdp");
  // One percent less noise would spend more than the target.
  CHECK(rdp_epsilon({{s.noise_multiplier * 0.99, s.sample_rate, s.steps}}, p.delta).epsilon > 2.0);
  CHECK(privacy_json(s)["noise_multiplier"] == s.noise_multiplier);
  // A batch larger than the data: every unit in every step.
  CHECK(plan_dp_schedule(p, 10, 32).sample_rate == 1.0);
}

TEST_CASE("dp schedule: delta >= 1/N, no units, an unreachable target and C <= 0 are refused", "[privacy]") {
  PrivacyConfig p;
  p.delta = 1e-3;
  CHECK_THROWS_WITH(plan_dp_schedule(p, 1000, 32), Catch::Contains("not below 1/N"));
  p.delta = 1e-5;
  CHECK_THROWS_AS(plan_dp_schedule(p, 0, 32), Error);
  PrivacyConfig tight = p;
  tight.delta = 1e-12;
  tight.target_epsilon = 0.2;  // below RDP's floor at this delta
  CHECK_THROWS_WITH(plan_dp_schedule(tight, 100000, 32), Catch::Contains("raise privacy.target_epsilon to at least"));
  PrivacyConfig no_clip = p;
  no_clip.max_grad_norm = 0;
  CHECK_THROWS_AS(plan_dp_schedule(no_clip, 1000, 32), Error);
}

TEST_CASE("group privacy: k units cost (k epsilon, k e^((k-1) epsilon) delta)", "[privacy]") {
  CHECK(group_privacy(2.0, 1e-6, 0).epsilon == 0);
  CHECK(group_privacy(2.0, 1e-6, 1).epsilon == 2.0);
  CHECK(group_privacy(2.0, 1e-6, 1).delta == 1e-6);
  const GroupPrivacy g = group_privacy(2.0, 1e-6, 3);
  CHECK(g.epsilon == Approx(6.0));
  CHECK(g.delta == Approx(3 * std::exp(4.0) * 1e-6));
  CHECK(group_privacy(2.0, 1e-2, 10).delta == 1.0);  // capped: no guarantee left
  CHECK_THAT(describe_guarantee("owner", 2.0, 1e-6, "rdp"),
             Catch::Contains("owner-level (epsilon = 2, delta = 1e-06, rdp accountant)") &&
                 Catch::Contains("(k epsilon, k e^((k-1) epsilon) delta)"));
}

TEST_CASE("dp schedule: the PRV accountant reaches targets below RDP's floor at delta 1e-12", "[privacy]") {
  PrivacyConfig p;
  p.delta = 1e-12;
  p.target_epsilon = 0.3;
  p.epochs = 1;
  CHECK_THROWS_WITH(plan_dp_schedule(p, 100000, 1000), Catch::Contains("rdp accountant"));
  p.accountant = "prv";
  const DpSchedule s = plan_dp_schedule(p, 100000, 1000);
  CHECK(s.spent.accountant == "prv");
  CHECK(s.spent.epsilon <= 0.3);
  CHECK(s.spent.epsilon > 0.29);
  CHECK(spent_by("rdp", {{s.noise_multiplier, s.sample_rate, s.steps}}, 1e-12).epsilon > 0.36);
  CHECK_THROWS_AS(spent_by("moments", {}, 1e-5), Error);
}
