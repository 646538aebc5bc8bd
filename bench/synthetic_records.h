// Synthetic JSONL records for the data-path benchmarks (ingest, forget): small records as a
// user export would have them, with unordered IDs and a fixed owner mapping, so that a
// benchmark can name a record or owner it knows is there.
#pragma once

#include <cstdint>
#include <string>

#include "src/common/fs.h"
#include "src/common/progress.h"
#include "src/ingest/ingest.h"

namespace spdlog {
class logger;
}

namespace lethe {

// Record i's ID: unordered like the UUIDs of a real export (splitmix64 is a bijection, so IDs
// are unique), which makes the index work harder than sequential IDs would.
std::string synthetic_record_id(uint64_t i);
// Record i's owner, one of `owners`.
std::string synthetic_owner(uint64_t i, int64_t owners);
// Writes records 0..n-1: ID, owner, label (spam or ham) and a ~25-byte text.
void write_synthetic_jsonl(const fs::path& path, int64_t n, int64_t owners, const ProgressOptions& progress);

// A scratch workspace `dir`/ws holding `records` synthetic records of `owners` owners (0 =
// records / 10), planned as shards x slices. Generating the file is not timed; the ingest is,
// from opening the file to the committed index (`read_s` of it reading the file).
struct SyntheticWorkspace {
  fs::path root;
  int64_t owners = 0;
  IngestReport report;
  double read_s = 0, ingest_s = 0;
};
SyntheticWorkspace ingest_synthetic(const fs::path& dir, int64_t records, int64_t owners, int shards, int slices,
                                    const ProgressOptions& progress, spdlog::logger& log);

}  // namespace lethe
