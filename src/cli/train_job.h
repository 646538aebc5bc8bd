// What `lethe train` and `lethe retrain` share: opening the workspace as a job over ranks
// (rank 0 for writing, first), and reporting the training run.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "src/cli/context.h"
#include "src/trainers/train_run.h"
#include "src/workspace/workspace.h"

namespace lethe {

// Rank 0 opens for writing first: its recovery (finishing purges, removing unreferenced
// files) must happen before any other rank reads the index or writes a checkpoint.
struct JobWorkspace {
  std::optional<WritableWorkspace> writable;  // rank 0
  std::optional<Workspace> readonly;          // the other ranks
  Workspace& ws() { return writable ? writable->ws : *readonly; }
};
void open_job_workspace(Context& ctx, JobWorkspace& job);

// The run as JSON (for --json) and as text.
nlohmann::json train_report_json(const TrainReport& r);
std::string train_report_text(const TrainReport& r, const std::string& verb);

}  // namespace lethe
