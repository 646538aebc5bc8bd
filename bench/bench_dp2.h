// `lethe bench dp2`: the honest comparison of three ways to forget, on the same data, base and
// deletions (issue 8): (a) `full`, retraining one model from scratch without the forgotten
// owners; (b) `dp2`, DP2Unlearning: fine-tuning the kept DP base on the retained data; (c)
// `s3t`, restoring the switched-off stages from the longest clean prefixes. For each: the cost
// of the initial training and of the unlearning (wall time, records processed), the utility
// after unlearning (test accuracy; perplexity for text) and the loss-threshold membership
// inference AUC of the forgotten records against never-seen test records (0.5: no trace).
//
// It works on a copy of the given workspace (data ingested and a base pretrained), so the
// workspace itself is not changed.
#pragma once

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include <cstdint>

#include "src/common/fs.h"
#include "src/common/progress.h"
#include "src/config/config.h"
#include "src/distributed/comm.h"

namespace lethe {

struct Dp2BenchOptions {
  int64_t forget_owners = 10;  // train-only owners forgotten in one request, drawn with `seed`
  uint64_t seed = 7;
};

nlohmann::json bench_dp2(const fs::path& workspace, const Config& config, const Dp2BenchOptions& options,
                         const Comm& comm, const ProgressOptions& progress, spdlog::logger& log);

}  // namespace lethe
