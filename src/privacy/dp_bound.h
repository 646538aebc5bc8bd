// What a differentially private component (dp2's DP base) that saw deleted records still
// guarantees about them: its own (epsilon, delta), the privacy units deleted from what it saw
// since it was trained (all requests together), and the group-privacy bound of those k units,
// (k epsilon, k e^{(k-1) epsilon} delta). Forget, status, audit verify and certificates all state
// it the same way.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "src/index/component_privacy.h"
#include "src/common/sqlite_db.h"

namespace lethe {

struct DpBounded {
  int64_t component_id = 0;
  std::string unit;
  double epsilon = 0, delta = 0;
  std::string accountant;
  int64_t deleted_units = 0;
  double group_epsilon = 0, group_delta = 0;
};

// The bound now, for a component with a recorded guarantee.
DpBounded dp_bound(Db& db, const ComponentPrivacy& privacy);

// {"component_id", "unit", "epsilon", "delta", "accountant", "deleted_units", "group_epsilon",
// "group_delta"}: as the ledger, forget, verify and certificates write it.
nlohmann::json dp_bounded_json(const DpBounded& bound);
// Read back from that JSON (a forget's ledger entry, a certificate).
DpBounded dp_bounded_from_json(const nlohmann::json& j);

}  // namespace lethe
