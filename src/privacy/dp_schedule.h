// What a DP-SGD run will do and spend, decided before its first step: the sampling rate and
// step count from the privacy units and the expected batch size, the noise multiplier that
// meets the target, and the privacy that run spends. The same inputs give the same schedule on
// every rank, so the index can record the guarantee the checkpoint carries.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/config/config.h"
#include "src/privacy/rdp_accountant.h"

namespace lethe {

// The privacy `accountant` ("rdp" or "prv", src/privacy/prv_accountant.h) says `runs` spend at
// `delta`. ErrorKind::kUsage for another name.
PrivacySpent spent_by(const std::string& accountant, const std::vector<SgmRun>& runs, double delta);

// The smallest noise multiplier (to a relative 1e-6 with rdp, 1e-4 with prv, whose every
// evaluation is an FFT over its mesh) whose run spends at most `target_epsilon` by
// `accountant`. ErrorKind::kUsage when no noise below 1e4 reaches it.
double noise_for(const std::string& accountant, double target_epsilon, double delta, double sample_rate, int64_t steps);

struct DpSchedule {
  std::string unit;          // record | owner
  int64_t units = 0;         // privacy units in the training data (N)
  double sample_rate = 0;    // q = min(1, expected batch / N)
  int64_t steps = 0;         // epochs x ceil(N / expected batch)
  double noise_multiplier = 0;
  double max_grad_norm = 0;
  bool per_layer = false;
  double delta = 0;
  PrivacySpent spent;        // of this run, by privacy.accountant
};

// ErrorKind::kUsage, naming the key and what would work, for delta >= 1 / N, no units, and a
// target the accountant cannot certify with these steps (a larger epsilon or delta would).
DpSchedule plan_dp_schedule(const PrivacyConfig& privacy, int64_t units, int64_t expected_batch);

// What a checkpoint, the index and the ledger record of a DP run: unit, units, epsilon, delta,
// accountant, order, noise_multiplier, sample_rate, steps, max_grad_norm, clipping.
nlohmann::json privacy_json(const DpSchedule& schedule);

// Group privacy (Dwork and Roth 2014, Theorem 2.2 generalised to delta, Vadhan 2017, Lemma
// 2.2): an (epsilon, delta)-DP mechanism is (k epsilon, k e^{(k-1) epsilon} delta)-DP for
// groups of k units. k = 0 gives (0, 0); k = 1 the guarantee itself.
struct GroupPrivacy {
  double epsilon = 0;
  double delta = 0;
};
GroupPrivacy group_privacy(double epsilon, double delta, int64_t k);

// "owner-level (epsilon = 2, delta = 1e-06, rdp accountant); deletions of k owners:
// (k epsilon, k e^{(k-1) epsilon} delta) by group privacy", with k and its figures when given.
std::string describe_guarantee(const std::string& unit, double epsilon, double delta, const std::string& accountant,
                               int64_t deleted_units = -1);

}  // namespace lethe
