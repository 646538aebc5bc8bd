// The workspace's state as users see it: plan, record counts per split, live records per
// slice, the base, and per trained mode what serves, what deletions switched off and what
// catching up would cost. `lethe status` prints it; `lethe serve` answers GET /v1/status with it.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "src/config/config.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct StatusReport {
  nlohmann::json json;
  std::string text;
};

StatusReport status_report(Workspace& ws, const Config& config);

}  // namespace lethe
