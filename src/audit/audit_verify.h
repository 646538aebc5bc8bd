// `lethe audit verify`: checks a workspace against everything it claims, trusting nothing it
// did not check itself, and names every violation with its location:
//   ledger       the chain of entries and their signatures (src/index/ledger.h);
//   checkpoints  every live component's file (the base included) exists and has its hash;
//   leftovers    no checkpoint file remains of a switched-off component;
//   slices       every slice file has its hash, holds no record the ledger says was deleted
//                (read from the file, matched by keyed ID) nor one the index marks deleted, and
//                no purge is pending;
//   lineage      no live component was trained on a slice version that held a deleted record;
//   replay       (on request) nodes trained again from their recorded inputs give the stored
//                bytes (src/audit/replay.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/progress.h"
#include "src/privacy/dp_bound.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct AuditViolation {
  std::string check;  // ledger | checkpoints | leftovers | slices | tokenizer | lineage | replay
  std::string where;  // the entry, file, component or slice concerned
  std::string what;
};

struct ReplayedNode {
  int64_t component_id = 0;
  std::string kind, prefix, stored_hash, replayed_hash;
  int shard = -1;
  double seconds = 0;
};

// A live differentially private component (dp2's DP base) that saw records deleted since: not
// a violation, because its signed guarantee bounds what it reveals of them; reported with the
// group-privacy bound of the units deleted.
struct DpBoundedComponent {
  std::string label;
  DpBounded bound;
};

struct AuditReport {
  std::vector<AuditViolation> violations;
  int64_t ledger_entries = 0, checkpoints = 0, slices = 0, lineage_edges = 0;
  // Slice files whose records were read and matched against the ledger's deleted IDs (needs the
  // ID secret, i.e. read access to audit.key; 0 when nothing was ever deleted).
  int64_t slices_read = 0;
  std::vector<DpBoundedComponent> dp_bounded;
  std::vector<ReplayedNode> replayed;
  int64_t replayable = 0;  // live nodes a replay could draw
  // Live nodes not replayed because this process has other numerics than they were trained with
  // (device kind, LibTorch or CUDA version): label and reason. Not violations.
  std::vector<std::pair<std::string, std::string>> not_replayable_here;
};

struct VerifyOptions {
  const Config* config = nullptr;  // what replays train under; nullptr: the workspace's lethe.toml
  int64_t replay = 0;              // nodes to train again and compare (0: none)
  uint64_t replay_seed = 0;
  ProgressOptions progress;
};

AuditReport verify_workspace(Workspace& ws, const std::string& public_key, const VerifyOptions& options = {});

}  // namespace lethe
