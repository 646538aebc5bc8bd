// What training has cost and when it last caught up with deletions: one row per finished
// train or retrain job, and per trained node the records it processed and its wall time.
// Kept in the index, not in checkpoints, whose bytes must not depend on timing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/common/sqlite_db.h"

namespace lethe {

struct TrainingRunRow {
  int64_t run_id = 0;
  std::string command;  // train | retrain
  std::string mode;
  std::string started_at, finished_at;  // utc_timestamp() (finished_at: set on insert)
  int64_t ranks = 1;
  int64_t requests_seq = 0;  // the last deletion request acknowledged when the run started
  int64_t nodes_trained = 0, nodes_reused = 0;
  int64_t nodes_pending = 0;  // left untrained (retrain --max-nodes)
  int64_t samples = 0;
  double seconds = 0;
};

// Inside the caller's transaction.
void insert_training_run(Db& db, const TrainingRunRow& row);
void record_component_cost(Db& db, int64_t component_id, int64_t samples, double seconds);

// Every run, oldest first.
std::vector<TrainingRunRow> training_runs(Db& db);

// The newest run of `mode` that left nothing untrained: the model was complete for every
// request up to its requests_seq.
std::optional<TrainingRunRow> last_complete_run(Db& db, const std::string& mode);

// The newest acknowledged deletion request (0 before any).
int64_t last_request_seq(Db& db);

// Records deleted by requests acknowledged after request `seq`.
int64_t records_deleted_after(Db& db, int64_t seq);

// Measured training speed of `mode`: records processed per second over its trained nodes
// (nullopt before any was timed).
std::optional<double> measured_samples_per_second(Db& db, const std::string& mode);

}  // namespace lethe
