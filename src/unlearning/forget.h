// lethe forget, the commit half: in one SQLite transaction, mark the requested records
// deleted, deactivate every live component that has seen one of their slices (for S3T, in
// every sequence, the node where the slice entered and every later node, since those are
// exactly the nodes whose lineage holds it), queue the slices for purge, and record the
// request. A deleted public record deactivates the base, and with it everything built on it.
// When commit_forget returns, the deletion is durable and no deactivated component serves;
// the bytes go in the purge (src/workspace/purge.h).
#pragma once

#include <string>
#include <vector>

#include "src/index/lineage_index.h"
#include "src/privacy/dp_bound.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct ForgetRequest {
  std::vector<std::string> ids;
  std::vector<std::string> owners;
  std::string request_id;  // empty: generated
  std::string reason;
  bool skip_missing = false;  // unknown IDs/owners are reported, not fatal
  bool retrain_dp_base = false;  // also switch off a DP base that saw the records (dp2)
};


struct ForgetResult {
  std::string request_id;
  int64_t deleted = 0;          // records this request deleted
  int64_t already_deleted = 0;  // named records that were deleted before (no-op)
  std::vector<std::string> missing_ids, missing_owners;
  std::vector<int64_t> slices;            // slice_ids queued for purge
  std::vector<ComponentRow> deactivated;  // components switched off
  std::vector<DpBounded> dp_bounded;      // DP components that saw them and stay live
};

// A DP component that saw a deleted record stays live unless the deletions since it was
// trained exceed `epsilon_budget` by group privacy (0 = no budget), or the request asks to
// switch it off. ErrorKind::kNotFound listing every unknown ID and owner (unless
// skip_missing), kConflict for a request ID used before or a request beyond the budget without
// retrain_dp_base, kUsage for an empty request. Nothing changes on error.
ForgetResult commit_forget(Workspace& ws, const ForgetRequest& request, double epsilon_budget);

}  // namespace lethe
