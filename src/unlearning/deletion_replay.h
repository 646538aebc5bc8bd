// Replaying deletions on a trained workspace without changing it: how accuracy and the cost of
// restoring service evolve as deletion requests arrive, for every trained mode side by side
// (`lethe simulate --with-eval`, and the charts of `lethe report`).
//
// A deletion sequence is drawn from the live train records (uniform: one record per request;
// owner: one owner per request, all of their records). Each mode's nodes are evaluated once on
// the test split, one ensemble member per node (the chain that ends at it); after each batch
// of requests the serving rule is applied to the nodes the deletions would have switched off
// (s3t: per shard the sequence with the longest clean prefix; sisa: its one chain's clean
// prefix), and the members that would serve are combined by mean logits. Nothing is retrained:
// the s3t and sisa curves are what serves between retrainings. `full` must retrain after every
// deletion to serve at all, and the replay runs no retraining: its accuracy curve is the trained
// full model's accuracy before any deletion, repeated at every point (not measured after the
// deletions; see accuracy_basis), and its cost is that of a retraining on everything. The
// workspace is only read.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "src/config/config.h"
#include "src/distributed/comm.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct ReplayOptions {
  int64_t requests = 100;                // deletion requests to replay
  int64_t batches = 10;                  // points after the start (requests spread evenly)
  std::string distribution = "uniform";  // uniform | owner
  uint64_t seed = 42;
};

// How a mode's replayed accuracy is obtained: "served" (s3t, sisa: the members that would still
// serve after each batch of deletions, measured on the test split) or "before_deletions" (full:
// its accuracy before any deletion, repeated; a retraining after the deletions would be needed
// to measure it, and the replay does not run one).
std::string accuracy_basis(const std::string& mode);

struct ReplayCurve {
  std::string mode;                     // s3t | sisa | full
  std::vector<double> accuracy;         // per point (see accuracy_basis); NaN when nothing would serve
  std::vector<int> live_shards;         // per point
  std::vector<double> retrain_samples;  // per point: records one retraining would process to
                                        // restore every sequence (all epochs)
};

struct ReplayResult {
  std::string distribution;
  std::vector<int64_t> requests;  // per point: requests replayed (0 first)
  std::vector<int64_t> records;   // per point: records they deleted
  std::vector<ReplayCurve> curves;  // one per trained mode
  int64_t test_records = 0;
};

// Every rank runs it (the evaluation is spread over ranks); the result is complete on rank 0.
// ErrorKind::kNotFound when no mode has been trained; kUsage for bad options.
ReplayResult replay_deletions(Workspace& ws, const Config& config, const ReplayOptions& options, const Comm& comm);

nlohmann::json replay_to_json(const ReplayResult& result);
// ErrorKind::kIntegrity naming the field when `j` is not what replay_to_json writes: at least
// one point, every per-point list as long as "requests", accuracies in [0, 1] or null.
ReplayResult replay_from_json(const nlohmann::json& j);
// A saved replay (reports/deletion-replay.json); ErrorKind::kIntegrity naming `path` when it is
// not valid JSON or not a replay.
ReplayResult read_replay(const fs::path& path);

}  // namespace lethe
