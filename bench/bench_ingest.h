// `lethe bench ingest`: ingest throughput, ID lookup latency and peak memory at scale, on
// synthetic JSONL records (generation is not timed).
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "src/common/fs.h"
#include "src/common/progress.h"

namespace spdlog {
class logger;
}

namespace lethe {

struct IngestBenchOptions {
  int64_t records = 1000000;
  int64_t owners = 0;         // 0 = records / 10
  int64_t lookups = 100000;
  int shards = 4;
  int slices = 4;
  fs::path dir;               // scratch directory (removed afterwards)
  ProgressOptions progress;
};

nlohmann::json bench_ingest(const IngestBenchOptions& options, spdlog::logger& log);

}  // namespace lethe
