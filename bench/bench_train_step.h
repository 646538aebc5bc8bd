// `lethe bench train-step`: throughput of one S3T-style training step (frozen base, LoRA on
// the attention projections, classification loss, AdamW on the adapters) on synthetic tokens.
#pragma once

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include <string>

#include "src/common/device.h"

namespace lethe {

struct TrainStepBenchOptions {
  std::string preset = "small";  // small: hidden 512, 8 layers, sequence 256
  int64_t batch_size = 8;
  int64_t seq_len = 0;  // 0 = the preset's
  int64_t steps = 5;    // timed steps, after 2 warm-up steps
  bool dp = false;      // also time the DP-SGD step (ghost clipping) on the same batch
  // Also run bench/python/train_step.py (transformers + PEFT, with dp Opacus), same sizes and
  // threads, and report the ratios; with `python` (empty: the venv Lethe was built with).
  bool compare_python = false;
  std::string python;
  ComputeDevice device;  // runtime.device and runtime.precision
};

// Returns at least tokens_per_s, achieved_gflops, device and sgemm_peak_gflops (the CPU's
// float32 peak; on a GPU the GPU's float32 peak) and fraction_of_peak (of the peak of the
// precision the step ran in); on a GPU also gemm_peak_gflops_bf16. With dp also
// dp_seconds_per_step and dp_overhead (DP-SGD step time / non-private step time). With
// compare_python: "python" (what the script measured) and python_ratio (Lethe's tokens/s over
// Python's); with dp also opacus_ratio (Opacus's DP step time over Lethe's).
nlohmann::json bench_train_step(const TrainStepBenchOptions& options, spdlog::logger& log);

}  // namespace lethe
