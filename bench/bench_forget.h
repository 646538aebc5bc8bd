// `lethe bench forget`: the cost of forgetting one owner at scale, on synthetic JSONL records
// (no training). Each forget is timed in two parts as a user meets them: the durable
// acknowledgement (the request's transaction committed) and the purge (slice files rewritten
// without the records, old files removed, the write-ahead log truncated).
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "src/common/fs.h"
#include "src/common/progress.h"

namespace spdlog {
class logger;
}

namespace lethe {

struct ForgetBenchOptions {
  int64_t records = 1000000;
  int64_t owners = 0;  // 0 = records / 10
  int shards = 4;
  int slices = 4;
  int forgets = 9;     // owners forgotten, one request each
  fs::path dir;        // scratch directory (removed afterwards)
  ProgressOptions progress;
};

nlohmann::json bench_forget(const ForgetBenchOptions& options, spdlog::logger& log);

}  // namespace lethe
