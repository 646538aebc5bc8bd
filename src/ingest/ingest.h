// `lethe ingest`: read a source, split it into train / public / test records, plan the train
// records into shards and slices, write one HDF5 file per slice and record everything in the
// lineage index. All or nothing: the index switches to the new files in one transaction, and
// files written by an ingest that fails or dies are unreferenced and removed (see
// remove_unreferenced_files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shards/plan.h"
#include "src/common/progress.h"
#include "src/config/config.h"
#include "src/data/records.h"
#include "src/workspace/workspace.h"

namespace spdlog {
class logger;
}

namespace lethe {

struct IngestOptions {
  bool append = false;  // add records to a workspace that already has data
  ProgressOptions progress;
};

struct IngestedSlice {
  std::string kind;
  int shard = -1;
  int slice = -1;
  uint64_t records = 0;
  std::string file;
  std::string hash;
};

struct IngestReport {
  std::string source;
  uint64_t records = 0;  // records added by this ingest
  uint64_t train = 0, public_records = 0, test = 0;
  std::vector<std::string> labels;
  PlanSummary plan;        // over all train records after this ingest
  std::vector<uint64_t> cell_sizes;
  std::vector<IngestedSlice> slices;  // files written by this ingest
  double read_s = 0, plan_s = 0, write_s = 0, index_s = 0;
};

// Reads the configured source (data.source) into memory, with labels named.
struct LoadedSource {
  RecordBatch records;
  std::vector<std::string> label_names;
  std::string description;  // e.g. "fashion-mnist (/usr/share/datasets/fashion-mnist)"
};
LoadedSource load_source(const DataConfig& data);

// Marks public and test records by the configured rules (seeded hashes of owner and ID).
void assign_splits(RecordBatch& batch, const DataConfig& data);

// Ingests `source` into the workspace (whose lock the caller holds).
IngestReport ingest(Workspace& ws, const Config& config, LoadedSource source,
                    const IngestOptions& options, spdlog::logger& log);

PlanOptions plan_options(const PlanConfig& plan);

}  // namespace lethe
