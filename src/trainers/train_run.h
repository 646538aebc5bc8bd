// `lethe train` as a job over R ranks (R >= 1, with or without mpirun). Every rank computes
// the same training plan and the same assignment of its units to ranks (by estimated cost);
// each rank trains its units and writes their node checkpoints; rank 0 alone writes the
// index: it commits its own nodes and those the other ranks send it, one transaction per
// node. Nodes already live with the same inputs, parent and configuration are kept, so an
// interrupted run resumes where it stopped. What a node trains to never depends on R.
#pragma once

#include <spdlog/logger.h>

#include <map>
#include <string>
#include <vector>

#include "shards/sequences.h"
#include "src/common/progress.h"
#include "src/distributed/comm.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct RankTotals {
  int rank = 0;
  int nodes_trained = 0;
  int nodes_reused = 0;
  int64_t samples = 0;  // records processed, all epochs
  double seconds = 0;   // training wall time on this rank
};

struct TrainReport {
  std::string mode;
  int shards = 0;
  int nodes = 0;                   // in the plan
  int nodes_trained = 0;
  int nodes_reused = 0;            // already trained on the same data (resume)
  int stages_without_sharing = 0;  // s3t: B x L x shards
  int64_t samples = 0;
  double seconds = 0;
  std::map<int, std::vector<Sequence>> sequences;  // per shard
  std::vector<RankTotals> ranks;                   // complete on rank 0
};

// Called on every rank. Rank 0's `ws` is open for writing (its lock held); the others'
// read-only, opened after rank 0's (recovery must not remove their new files).
TrainReport train_model(Workspace& ws, const Comm& comm, const Config& config,
                        const ProgressOptions& progress, spdlog::logger& log);

// The sequences recorded at training time for `mode`, per shard (ErrorKind::kNotFound before
// that mode has been trained).
std::map<int, std::vector<Sequence>> recorded_sequences(Workspace& ws, const std::string& mode);

}  // namespace lethe
