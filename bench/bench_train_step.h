// `lethe bench train-step`: throughput of one S3T-style training step (frozen base, LoRA on
// the attention projections, classification loss, AdamW on the adapters) on synthetic tokens.
#pragma once

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include <string>

namespace lethe {

struct TrainStepBenchOptions {
  std::string preset = "small";  // small: hidden 512, 8 layers, sequence 256
  int64_t batch_size = 8;
  int64_t seq_len = 0;  // 0 = the preset's
  int64_t steps = 5;    // timed steps, after 2 warm-up steps
  bool dp = false;      // also time the DP-SGD step (ghost clipping) on the same batch
};

// Returns at least tokens_per_s, achieved_gflops and sgemm_peak_gflops; with dp also
// dp_seconds_per_step and dp_overhead (DP-SGD step time / non-private step time).
nlohmann::json bench_train_step(const TrainStepBenchOptions& options, spdlog::logger& log);

}  // namespace lethe
