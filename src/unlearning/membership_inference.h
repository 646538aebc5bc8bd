// The forgetting check of `lethe eval --mia`: loss-threshold membership-inference attacks
// (Yeom et al. 2018) against the serving models. Records a model was trained on tend to have
// lower loss than records it never saw; an AUC says how well the loss separates two groups
// (0.5: not at all).
//
// The headline compares like with like. Each train record came from one shard, so its loss
// under the model of that shard (which, after forgetting and retraining, must never have seen
// it) is set against its losses under the other shards' models (which never did): the same
// records on both sides, so how alike the deleted records are to each other (one sender's
// mails) and to the rest cancels out. Each shard model's losses are centred on its mean test
// loss, so a shard that fits everything better does not pass for one that remembers. Deleted
// records should give 0.5; retained ones show the membership signal the shard models carry,
// the power of the test (near 0.5 too: the test can show nothing). It needs two or more
// serving shards (s3t, sisa), and assumes the plan put records like the deleted ones into their
// shard no more than into others (true for the hashed plans; not for a plan by time).
//
// The older comparison, deleted (or retained) records against the test split under the
// ensemble, is kept, labelled for what it measures: it compares different records, so it also
// measures how the groups differ. An owner's records resemble each other more than random test
// records do, and after an owner-level deletion it is far from 0.5 even when nothing was kept.
//
// Neither number proves a deletion: a loss attack is one attack, and 0.5 is what a weak model
// gives too. Exactness is what the lineage check and `lethe audit verify --replay` prove.
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

// The own-shard comparison over records: `losses[m][r]` is member m's loss on record r,
// `own[r]` the member that holds record r's shard (-1: its shard does not serve; skipped), and
// `centre[m]` member m's mean test loss. The share of (record, other member) pairs in which the
// record's centred loss is lower under its own shard's model than under the other's, ties
// counted half. nullopt when no record has both its own and another member.
std::optional<double> own_shard_auc(const std::vector<std::vector<double>>& losses, const std::vector<int>& own,
                                    const std::vector<double>& centre);

struct MiaReport {
  MiaGroup deleted, retained, test;
  int64_t deleted_missing = 0;  // deleted IDs the data source no longer holds
  // The headline: own shard's model against the other shards' models, same records. Should
  // sit near 0.5 after forgetting; the retained records' value is the test's power.
  std::optional<double> deleted_own_shard;
  std::optional<double> retained_own_shard;
  int64_t deleted_own_shard_records = 0;  // deleted records whose shard serves (compared)
  // Against the test split under the ensemble: different records on each side (see above).
  std::optional<double> deleted_vs_test;
  std::optional<double> retained_vs_test;
  std::string source;  // where the deleted records were read back from
};

// Every rank runs it; complete on rank 0. `max_records` caps the retained sample (evenly
// spread over the train slices) and the test group.
MiaReport membership_inference(Workspace& ws, const Config& config, const std::string& mode, const Comm& comm,
                               int64_t max_records = 5000);

}  // namespace lethe
