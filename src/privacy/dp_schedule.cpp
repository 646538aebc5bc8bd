#include "src/privacy/dp_schedule.h"

#include <cmath>

#include "src/common/error.h"
#include "src/privacy/prv_accountant.h"

namespace lethe {

PrivacySpent spent_by(const std::string& accountant, const std::vector<SgmRun>& runs, double delta) {
  if (accountant == "rdp") return rdp_epsilon(runs, delta);
  if (accountant == "prv") return prv_epsilon(runs, delta);
  fail(ErrorKind::kUsage, "unknown privacy accountant '{}': expected rdp or prv", accountant);
}

double noise_for(const std::string& accountant, double target_epsilon, double delta, double sample_rate, int64_t steps) {
  if (accountant != "prv") {
    (void)spent_by(accountant, {}, delta);  // names an unknown accountant
    return noise_for_epsilon(target_epsilon, delta, sample_rate, steps);
  }
  if (!(target_epsilon > 0)) fail(ErrorKind::kUsage, "target epsilon {}: expected a positive number", target_epsilon);
  const auto eps = [&](double sigma) { return prv_epsilon({{sigma, sample_rate, steps}}, delta).epsilon; };
  // Bracket from above by doubling, then halve the bracket. Starting at 1 keeps the meshes
  // small: a tiny noise means a huge epsilon, and the PRV's domain grows with it.
  double hi = 1;
  while (eps(hi) > target_epsilon) {
    hi *= 2;
    if (hi > 1e4) {
      fail(ErrorKind::kUsage, "epsilon {} at delta {} cannot be reached in {} steps at sample rate {}, even with noise "
           "multiplier 1e4 (PRV accountant)", target_epsilon, delta, steps, sample_rate);
    }
  }
  double lo = hi / 2;
  while (lo > 1e-3 && eps(lo) <= target_epsilon) {
    hi = lo;
    lo /= 2;
  }
  while (hi - lo > 1e-4 * hi) {
    const double mid = (lo + hi) / 2;
    (eps(mid) > target_epsilon ? lo : hi) = mid;
  }
  return hi;
}

DpSchedule plan_dp_schedule(const PrivacyConfig& p, int64_t units, int64_t expected_batch) {
  const std::string what = p.unit == "owner" ? "owners" : "records";
  if (units <= 0) fail(ErrorKind::kUsage, "DP training has no {} to train on", what);
  if (!(p.delta < 1.0 / static_cast<double>(units))) {
    // delta >= 1/N lets a mechanism publish one unit's data outright and still be "private".
    fail(ErrorKind::kUsage, "privacy.delta = {:g} is not below 1/N = {:g} (N = {} {} trained on): such a delta "
         "allows releasing a whole {} in the clear; set privacy.delta below {:g} (1/(10 N) = {:g} is usual)",
         p.delta, 1.0 / static_cast<double>(units), units, what, p.unit, 1.0 / static_cast<double>(units),
         0.1 / static_cast<double>(units));
  }
  if (!(p.max_grad_norm > 0)) fail(ErrorKind::kUsage, "privacy.max_grad_norm = {:g}: expected a positive number", p.max_grad_norm);
  if (!(p.target_epsilon > 0)) fail(ErrorKind::kUsage, "privacy.target_epsilon = {:g}: expected a positive number", p.target_epsilon);
  DpSchedule s;
  s.unit = p.unit;
  s.units = units;
  s.sample_rate = std::min(1.0, static_cast<double>(expected_batch) / static_cast<double>(units));
  s.steps = p.epochs * ((units + expected_batch - 1) / expected_batch);
  s.max_grad_norm = p.max_grad_norm;
  s.per_layer = p.clipping == "per_layer";
  s.delta = p.delta;
  try {
    s.noise_multiplier = noise_for(p.accountant, p.target_epsilon, p.delta, s.sample_rate, s.steps);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUsage) throw;
    const double floor = spent_by(p.accountant, {{1e4, s.sample_rate, s.steps}}, p.delta).epsilon;
    fail(ErrorKind::kUsage, "privacy.target_epsilon = {:g} cannot be reached: {} steps at sample rate {:.4g} "
         "({} {}, train.batch_size {}, privacy.epochs {}) at delta {:g} certify no epsilon below {:.4g} with the "
         "{} accountant, whatever the noise; raise privacy.target_epsilon to at least {:.3g}, or raise privacy.delta",
         p.target_epsilon, s.steps, s.sample_rate, units, what, expected_batch, p.epochs, p.delta, floor, p.accountant,
         floor * 1.001);
  }
  s.spent = spent_by(p.accountant, {{s.noise_multiplier, s.sample_rate, s.steps}}, p.delta);
  return s;
}

nlohmann::json privacy_json(const DpSchedule& s) {
  return {{"unit", s.unit}, {"units", s.units}, {"epsilon", s.spent.epsilon}, {"delta", s.delta},
          {"accountant", s.spent.accountant}, {"order", s.spent.order}, {"noise_multiplier", s.noise_multiplier},
          {"sample_rate", s.sample_rate}, {"steps", s.steps}, {"max_grad_norm", s.max_grad_norm},
          {"clipping", s.per_layer ? "per_layer" : "flat"}};
}

GroupPrivacy group_privacy(double epsilon, double delta, int64_t k) {
  if (k <= 0) return {};
  const double kd = static_cast<double>(k);
  return {kd * epsilon, std::min(1.0, kd * std::exp((kd - 1) * epsilon) * delta)};
}

std::string describe_guarantee(const std::string& unit, double epsilon, double delta, const std::string& accountant,
                               int64_t deleted_units) {
  std::string s = fmt::format("{}-level (epsilon = {:.4g}, delta = {:.3g}, {} accountant)", unit, epsilon, delta, accountant);
  const std::string units = unit == "owner" ? "owners" : "records";
  if (deleted_units < 0) {
    return s + fmt::format("; deletions of k {}: (k epsilon, k e^((k-1) epsilon) delta) by group privacy", units);
  }
  const GroupPrivacy g = group_privacy(epsilon, delta, deleted_units);
  return s + fmt::format("; the {} {} deleted since it was trained: (epsilon = {:.4g}, delta = {:.3g}) by group privacy",
                         deleted_units, deleted_units == 1 ? unit : units, g.epsilon, g.delta);
}

}  // namespace lethe
