#include "src/index/workspace_plan.h"

#include <nlohmann/json.hpp>

#include "src/common/error.h"
#include "src/index/lineage_index.h"

namespace lethe {

namespace {

std::string sequences_key(const std::string& mode) { return "sequences." + mode; }

// The workspace directory, for messages: the index is its lineage.db (src/workspace/layout.h).
std::string workspace_of(const Db& db) { return db.path().parent_path().string(); }

}  // namespace

void write_plan(Db& db, const WorkspacePlan& plan) {
  set_meta(db, "plan.shards", std::to_string(plan.shards));
  set_meta(db, "plan.slices", std::to_string(plan.slices));
  set_meta(db, "plan.strategy", plan.strategy);
  set_meta(db, "plan.seed", std::to_string(plan.seed));
}

std::optional<WorkspacePlan> find_plan(Db& db) {
  const auto shards = get_meta(db, "plan.shards");
  if (!shards) return std::nullopt;
  WorkspacePlan p;
  p.shards = std::stoi(*shards);
  p.slices = std::stoi(get_meta(db, "plan.slices").value_or("0"));
  p.strategy = get_meta(db, "plan.strategy").value_or("");
  p.seed = std::stoull(get_meta(db, "plan.seed").value_or("0"));
  return p;
}

WorkspacePlan read_plan(Db& db) {
  std::optional<WorkspacePlan> p = find_plan(db);
  if (!p || p->shards == 0) fail(ErrorKind::kUsage, "workspace '{}' holds no data: run 'lethe ingest'", workspace_of(db));
  return *p;
}

nlohmann::json record_sequences(Db& db, const std::string& mode, const RecordedSequences& sequences) {
  nlohmann::json recorded = nlohmann::json::object();
  for (const auto& [shard, seqs] : sequences) recorded[std::to_string(shard)] = seqs;
  set_meta(db, sequences_key(mode), recorded.dump());
  return recorded;
}

bool has_recorded_sequences(Db& db, const std::string& mode) { return get_meta(db, sequences_key(mode)).has_value(); }

RecordedSequences recorded_sequences(Db& db, const std::string& mode) {
  const auto text = get_meta(db, sequences_key(mode));
  if (!text) {
    fail(ErrorKind::kNotFound, "no {} model has been trained in '{}': run 'lethe train --mode {}'", mode,
         workspace_of(db), mode);
  }
  RecordedSequences out;
  const nlohmann::json j = nlohmann::json::parse(*text);  // outlives the loop's proxy
  for (const auto& [shard, seqs] : j.items()) out[std::stoi(shard)] = seqs.get<std::vector<std::vector<int>>>();
  return out;
}

}  // namespace lethe
