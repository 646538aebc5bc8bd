// The data plan: every train record assigned to one (shard, slice) cell of an m x L grid.
// Deterministic: the same records, options and seed always give the same plan, on any machine
// (no std:: random distributions, whose output differs between standard libraries).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/data/records.h"

namespace lethe {

struct PlanOptions {
  int shards = 4;
  int slices = 4;
  std::string strategy = "owner";  // owner | random
  uint64_t seed = 42;

  int cells() const { return shards * slices; }
};

struct Plan {
  // Per record of the planned batch: its cell (shard * slices + slice), or -1 when the record
  // is not a train record.
  std::vector<int32_t> cell_of;
  std::vector<uint64_t> cell_sizes;  // records per cell
};

// Plans the train records of `batch`. `existing` (may be empty) holds the current records per
// cell and, for the owner strategy, the cell each already-planned owner lives in: used by
// `ingest --append`, so an owner's new records join its slice and new records fill the
// lightest cells. ErrorKind::kInput when there are fewer train records (or owners) than cells.
struct ExistingPlan {
  std::vector<uint64_t> cell_sizes;                      // empty = fresh plan
  std::vector<std::pair<std::string, int32_t>> owners;  // owner -> cell (owner strategy)
};
Plan make_plan(const RecordBatch& batch, const PlanOptions& options,
               const ExistingPlan& existing = {});

struct PlanSummary {
  uint64_t records = 0;
  uint64_t min_cell = 0, max_cell = 0;
  double mean_cell = 0;
  double imbalance = 0;  // max / mean - 1
};
PlanSummary summarize(const std::vector<uint64_t>& cell_sizes);

// Deterministic hashing used by planning and split selection.
uint64_t splitmix64(uint64_t x);

// Fisher-Yates with a splitmix64 stream: the same order on every machine (std::shuffle's
// differs between standard libraries).
template <typename T>
void deterministic_shuffle(std::vector<T>& v, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = v.size(); i > 1; --i) {
    state = splitmix64(state);
    std::swap(v[i - 1], v[static_cast<size_t>(state % i)]);
  }
}
uint64_t hash64(std::string_view bytes, uint64_t seed);
// A uniform number in [0, 1) derived from `bytes` and `seed`.
double unit_hash(std::string_view bytes, uint64_t seed);

}  // namespace lethe
