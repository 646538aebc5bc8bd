#include "src/privacy/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "src/common/error.h"

namespace lethe {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) and log(exp(a) - exp(b)) (a >= b), stable for large magnitudes.
double log_add(double a, double b) {
  const double hi = std::max(a, b), lo = std::min(a, b);
  if (hi == -kInf) return -kInf;
  return hi + std::log1p(std::exp(lo - hi));
}

double log_sub(double a, double b) {
  if (b == -kInf) return a;
  if (a <= b) return -kInf;  // the series' terms cancel to nothing representable
  return a + std::log1p(-std::exp(b - a));
}

// log(erfc(x)), accurate where erfc underflows (x > ~26): the asymptotic expansion
// erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)).
double log_erfc(double x) {
  const double e = std::erfc(x);
  if (e > 1e-300) return std::log(e);
  const double x2 = x * x;
  return -x2 - std::log(x) - 0.5 * std::log(M_PI) + std::log1p(-1 / (2 * x2) + 3 / (4 * x2 * x2) - 15 / (8 * x2 * x2 * x2));
}

// log(A_alpha) for integer alpha: the binomial expansion (Mironov et al. 2019, Section 3.3).
double log_a_int(double q, double sigma, int64_t alpha) {
  double log_a = -kInf;
  double log_binom = 0;  // log C(alpha, i)
  for (int64_t i = 0; i <= alpha; ++i) {
    if (i > 0) log_binom += std::log(static_cast<double>(alpha - i + 1)) - std::log(static_cast<double>(i));
    const double di = static_cast<double>(i);
    const double term = log_binom + di * std::log(q) + (static_cast<double>(alpha) - di) * std::log1p(-q) +
                        (di * di - di) / (2 * sigma * sigma);
    log_a = log_add(log_a, term);
  }
  return log_a;
}

// log(A_alpha) for fractional alpha: the two series of Mironov et al. 2019, Section 3.3,
// summed until their terms fall below e^-30.
double log_a_frac(double q, double sigma, double alpha) {
  double log_a0 = -kInf, log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  double coef = 1;  // C(alpha, i), generalised: its sign alternates once i > alpha
  for (int64_t k = 0;; ++k) {
    const double i = static_cast<double>(k);
    if (k > 0) coef *= (alpha - i + 1) / i;
    const double log_coef = std::log(std::abs(coef));
    const double j = alpha - i;
    const double log_t0 = log_coef + i * std::log(q) + j * std::log1p(-q);
    const double log_t1 = log_coef + j * std::log(q) + i * std::log1p(-q);
    const double log_e0 = std::log(0.5) + log_erfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + log_erfc((z0 - j) / (std::sqrt(2.0) * sigma));
    const double log_s0 = log_t0 + (i * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    if (coef > 0) {
      log_a0 = log_add(log_a0, log_s0);
      log_a1 = log_add(log_a1, log_s1);
    } else {
      log_a0 = log_sub(log_a0, log_s0);
      log_a1 = log_sub(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < -30) break;
  }
  return log_add(log_a0, log_a1);
}

void check_run(const SgmRun& r) {
  if (!(r.sample_rate >= 0 && r.sample_rate <= 1)) fail(ErrorKind::kUsage, "sample rate {} is outside [0, 1]", r.sample_rate);
  if (!(r.noise_multiplier >= 0)) fail(ErrorKind::kUsage, "noise multiplier {} is negative", r.noise_multiplier);
  if (r.steps < 0) fail(ErrorKind::kUsage, "{} steps: expected 0 or more", r.steps);
}

}  // namespace

const std::vector<double>& default_rdp_orders() {
  static const std::vector<double> kOrders = [] {
    std::vector<double> o;
    for (int x = 1; x < 100; ++x) o.push_back(1 + x / 10.0);
    for (int a = 12; a < 64; ++a) o.push_back(a);
    return o;
  }();
  return kOrders;
}

double sgm_rdp(double q, double sigma, double order) {
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return order / (2 * sigma * sigma);
  if (std::isinf(order)) return kInf;
  const double log_a = std::floor(order) == order ? log_a_int(q, sigma, static_cast<int64_t>(order)) : log_a_frac(q, sigma, order);
  return log_a / (order - 1);
}

PrivacySpent rdp_epsilon(const std::vector<SgmRun>& runs, double delta, const std::vector<double>& orders) {
  if (!(delta > 0 && delta < 1)) fail(ErrorKind::kUsage, "delta {} is outside (0, 1)", delta);
  for (const SgmRun& r : runs) check_run(r);
  PrivacySpent best;
  best.epsilon = kInf;
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    double rdp = 0;
    for (const SgmRun& r : runs) {
      if (r.steps > 0) rdp += sgm_rdp(r.sample_rate, r.noise_multiplier, a) * static_cast<double>(r.steps);
    }
    const double eps = rdp - (std::log(delta) + std::log(a)) / (a - 1) + std::log((a - 1) / a);
    if (!std::isnan(eps) && eps < best.epsilon) {
      best.epsilon = eps;
      best.order = a;
      best.order_at_edge = k == 0 || k + 1 == orders.size();
    }
  }
  // Without any step nothing is spent; the conversion's bound is still positive, not 0.
  best.epsilon = std::max(best.epsilon, 0.0);
  return best;
}

double noise_for_epsilon(double target_epsilon, double delta, double sample_rate, int64_t steps) {
  if (!(target_epsilon > 0)) fail(ErrorKind::kUsage, "target epsilon {}: expected a positive number", target_epsilon);
  const auto eps = [&](double sigma) { return rdp_epsilon({{sigma, sample_rate, steps}}, delta).epsilon; };
  constexpr double kMaxSigma = 1e4;
  if (eps(kMaxSigma) > target_epsilon) {
    fail(ErrorKind::kUsage, "epsilon {} at delta {} cannot be reached in {} steps at sample rate {}: even noise multiplier "
         "{:g} spends {:.4g}; RDP with orders up to 63 certifies nothing smaller at this delta (a larger delta would)",
         target_epsilon, delta, steps, sample_rate, kMaxSigma, eps(kMaxSigma));
  }
  double lo = 0, hi = 1;
  while (eps(hi) > target_epsilon) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1e-6 * hi) {
    const double mid = (lo + hi) / 2;
    (eps(mid) > target_epsilon ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace lethe
