// The workspace's plan as its first ingest fixed it (meta plan.*: m shards x L slices, the
// strategy and seed that placed the records) and the sequences each training mode recorded
// (meta sequences.<mode>). The one place that knows these keys: every reader gets typed values
// and the same error where there are none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "src/common/sqlite_db.h"

namespace lethe {

struct WorkspacePlan {
  int shards = 0;        // m
  int slices = 0;        // L, per shard
  std::string strategy;  // owner | random
  uint64_t seed = 0;
};

// Inside the ingest's transaction (an append writes the same values again).
void write_plan(Db& db, const WorkspacePlan& plan);

// std::nullopt before the first ingest.
std::optional<WorkspacePlan> find_plan(Db& db);

// ErrorKind::kUsage "workspace '<dir>' holds no data: run 'lethe ingest'" before the first ingest.
WorkspacePlan read_plan(Db& db);

// A mode's sequences per shard, each an order of the shard's slice indices (shards/sequences.h).
using RecordedSequences = std::map<int, std::vector<std::vector<int>>>;

// Records the sequences `mode` trains (inside the run's transaction) and returns them as
// stored, {"<shard>": [[slice, ...], ...]}, for the ledger event that goes with them.
nlohmann::json record_sequences(Db& db, const std::string& mode, const RecordedSequences& sequences);

// Whether `mode` has been trained (it recorded its sequences).
bool has_recorded_sequences(Db& db, const std::string& mode);

// The sequences recorded at training time for `mode`, per shard. ErrorKind::kNotFound before
// that mode has been trained.
RecordedSequences recorded_sequences(Db& db, const std::string& mode);

}  // namespace lethe
