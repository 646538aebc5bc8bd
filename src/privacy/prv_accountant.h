// The PRV accountant (Gopi, Lee and Wutschitz 2021, "Numerical Composition of Differential
// Privacy", arXiv:2106.02848): the privacy loss random variable of each step of the Poisson
// subsampled Gaussian mechanism is discretised on a mesh and the steps composed exactly by FFT;
// epsilon at delta is then read off the composed distribution, with an error bound. It
// certifies far smaller epsilons than RDP at tiny delta (RDP's conversion with orders up to 63
// cannot go below about 0.36 at delta = 1e-12).
//
// The construction follows Opacus's PRVAccountant (itself after the authors' prv_accountant):
// the domain [-L, L] with L from RDP (Remark 5.6 of the paper), mesh eps_error /
// sqrt(steps log(12 / delta_error) / 2), the truncated PRV discretised by its CDF on cells
// centred on the mesh and shifted to keep its mean, self-composition by a power of its real FFT,
// runs of different (sigma, q) convolved. The reported epsilon is the upper bound
// (estimate + eps_error, at delta - delta_error): a guarantee, not an estimate.
#pragma once

#include <vector>

#include "src/privacy/rdp_accountant.h"

namespace lethe {

struct PrvEpsilon {
  double lower = 0, estimate = 0, upper = 0;
};

// ErrorKind::kUsage for delta outside (0, 1) or a run outside the accountant's domain (no
// noise, q outside (0, 1]); kInternal when the discretisation cannot resolve delta (the mesh
// would need more points than memory allows).
PrvEpsilon prv_epsilon_bounds(const std::vector<SgmRun>& runs, double delta, double eps_error = 0.01,
                              double delta_error = 0 /* 0: delta / 1000 */);

// The upper bound as a PrivacySpent (accountant "prv").
PrivacySpent prv_epsilon(const std::vector<SgmRun>& runs, double delta);

}  // namespace lethe
