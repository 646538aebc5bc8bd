// Privacy accounting for DP-SGD: Rényi DP of the sampled Gaussian mechanism (Mironov, Talwar and
// Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
// arXiv:1908.10530), composed over steps by adding RDP, and converted to (epsilon, delta) with
// the conversion of Balle et al. 2020 ("Hypothesis testing interpretations and Rényi
// differential privacy", Theorem 21), the one Opacus and Google's dp_accounting use today:
//   epsilon = min over alpha of  rdp(alpha) - (log delta + log alpha) / (alpha - 1) + log((alpha - 1) / alpha).
// The orders are Opacus's default grid (1.1 .. 10.9 in steps of 0.1, then 12 .. 63), so that its
// published values can be checked exactly.
//
// RDP cannot certify small epsilon at tiny delta with orders up to 63 (nothing below
// epsilon ~ 0.36 at delta = 1e-12): callers that need that must say which accountant produced
// each figure (`accountant` below).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lethe {

// One DP-SGD run: `steps` steps at Poisson sampling rate `sample_rate` with Gaussian noise of
// standard deviation `noise_multiplier` times the clipping norm.
struct SgmRun {
  double noise_multiplier = 0;
  double sample_rate = 0;
  int64_t steps = 0;
};

const std::vector<double>& default_rdp_orders();

// RDP of one step of the sampled Gaussian mechanism at `order` (> 1); +inf without noise.
double sgm_rdp(double sample_rate, double noise_multiplier, double order);

struct PrivacySpent {
  double epsilon = 0;
  double order = 0;                     // the order that gave it
  std::string accountant = "rdp";       // which accountant produced it
  bool order_at_edge = false;           // the optimum is the smallest or largest order
};

// (epsilon, delta) of the composition of `runs` (every run that touched the data).
// ErrorKind::kUsage for delta outside (0, 1), a sample rate outside [0, 1], negative noise
// or steps.
PrivacySpent rdp_epsilon(const std::vector<SgmRun>& runs, double delta,
                         const std::vector<double>& orders = default_rdp_orders());

// The smallest noise multiplier (to a relative 1e-6) whose run of `steps` at `sample_rate`
// spends at most `target_epsilon` at `delta`. ErrorKind::kUsage for a target that no noise
// below 1e4 reaches (RDP's floor at that delta), naming the epsilon that much noise gives.
double noise_for_epsilon(double target_epsilon, double delta, double sample_rate, int64_t steps);

}  // namespace lethe
