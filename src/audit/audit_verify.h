// `lethe audit verify`: checks a workspace against everything it claims, trusting nothing it
// did not check itself, and names every violation with its location:
//   ledger       the chain of entries and their signatures (shards/ledger.h);
//   checkpoints  every live component's file (the base included) exists and has its hash;
//   leftovers    no checkpoint file remains of a switched-off component;
//   slices       every slice file has its hash, no deleted record is still in one, no purge
//                is pending;
//   lineage      no live component was trained on a slice version that held a deleted record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/workspace/workspace.h"

namespace lethe {

struct AuditViolation {
  std::string check;  // ledger | checkpoints | leftovers | slices | lineage
  std::string where;  // the entry, file, component or slice concerned
  std::string what;
};

struct AuditReport {
  std::vector<AuditViolation> violations;
  int64_t ledger_entries = 0, checkpoints = 0, slices = 0, lineage_edges = 0;
};

AuditReport verify_workspace(Workspace& ws, const std::string& public_key);

}  // namespace lethe
