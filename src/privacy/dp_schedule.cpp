#include "src/privacy/dp_schedule.h"

#include <cmath>

#include "src/common/error.h"

namespace lethe {

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
    s.noise_multiplier = noise_for_epsilon(p.target_epsilon, p.delta, s.sample_rate, s.steps);
  } catch (const Error& e) {
    const double floor = rdp_epsilon({{1e4, s.sample_rate, s.steps}}, p.delta).epsilon;
    fail(ErrorKind::kUsage, "privacy.target_epsilon = {:g} cannot be reached: {} steps at sample rate {:.4g} "
         "({} {}, train.batch_size {}, privacy.epochs {}) at delta {:g} certify no epsilon below {:.4g} with the "
         "{} accountant, whatever the noise; raise privacy.target_epsilon to at least {:.3g}, or raise privacy.delta",
         p.target_epsilon, s.steps, s.sample_rate, units, what, expected_batch, p.epochs, p.delta, floor, p.accountant,
         floor * 1.001);
  }
  s.spent = rdp_epsilon({{s.noise_multiplier, s.sample_rate, s.steps}}, p.delta);
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
