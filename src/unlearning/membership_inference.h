// The forgetting check of `lethe eval --mia`: a loss-threshold membership-inference attack
// (Yeom et al. 2018) against the serving ensemble. Records a model was trained on tend to have
// lower loss than records it never saw; the attack's AUC says how well the loss separates two
// groups (0.5: not at all). After forgetting, deleted records must look like never-seen test
// records (AUC near 0.5), while retained training records show whatever membership signal the
// model carries (the reference).
//
// The deleted records' bytes are gone from the workspace by design, so they are read back from
// the workspace's configured data source (data.* in lethe.toml), matched by ID; records the
// source no longer holds are counted, not guessed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/config/config.h"
#include "src/distributed/comm.h"
#include "src/workspace/workspace.h"

namespace lethe {

// P(member loss < outsider loss) + P(equal) / 2: the AUC of the threshold attack that calls
// low-loss records members (Mann-Whitney U over all pairs, in O(n log n)). nullopt when a
// group is empty.
std::optional<double> membership_auc(const std::vector<double>& member_losses,
                                     const std::vector<double>& outsider_losses);

struct MiaGroup {
  int64_t records = 0;
  double mean_loss = 0;
};

struct MiaReport {
  MiaGroup deleted, retained, test;
  int64_t deleted_missing = 0;            // deleted IDs the data source no longer holds
  std::optional<double> deleted_vs_test;  // AUC: should sit near 0.5 after forgetting
  std::optional<double> retained_vs_test;  // AUC of records the model may use (reference)
  std::string source;                     // where the deleted records were read back from
};

// Every rank runs it; complete on rank 0. `max_records` caps the retained sample (evenly
// spread over the train slices) and the test group.
MiaReport membership_inference(Workspace& ws, const Config& config, const std::string& mode, const Comm& comm,
                               int64_t max_records = 5000);

}  // namespace lethe
