// lethe bench: measured performance, printed beside the machine's sgemm peak.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include "bench/bench_dp2.h"
#include "bench/bench_forget.h"
#include "bench/bench_ingest.h"
#include "bench/bench_reduction.h"
#include "bench/bench_train_step.h"
#include "src/common/error.h"
#include "src/common/device.h"
#include "src/cli/context.h"

namespace lethe {

namespace {

// A benchmark's scratch directory, removed with everything in it afterwards: a new folder
// lethe-bench-<pid> inside the directory given (or $TMPDIR, or /tmp), never the directory itself,
// so that --dir names a place without putting what is already there at risk.
fs::path scratch_dir(const std::string& given) {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path parent = !given.empty() ? fs::path(given) : fs::path(tmp && *tmp ? tmp : "/tmp");
  return parent / ("lethe-bench-" + std::to_string(getpid()));
}

}  // namespace

void add_bench_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* group = root.add_subcommand("bench", "Benchmarks (figures for docs/benchmarks.md)");
  group->require_subcommand(1);

  auto* ingest = group->add_subcommand(
      "ingest",
      "Generate N synthetic JSONL records, ingest them into a scratch workspace (timed), then "
      "look up random IDs in the index (timed); reports records/s, lookup time and peak memory");
  auto opt = std::make_shared<IngestBenchOptions>();
  auto dir = std::make_shared<std::string>();
  ingest->add_option("--records", opt->records, "Records to generate")->capture_default_str();
  ingest->add_option("--owners", opt->owners, "Distinct owners (0 = records / 10)");
  ingest->add_option("--lookups", opt->lookups, "Random ID lookups")->capture_default_str();
  ingest->add_option("--shards", opt->shards, "Shards")->capture_default_str();
  ingest->add_option("--slices", opt->slices, "Slices per shard")->capture_default_str();
  ingest->add_option("--dir", *dir, "Where the scratch folder lethe-bench-<pid> goes (removed afterwards; default: $TMPDIR, else /tmp)");
  commands.push_back({ingest, [=](Context& ctx) {
                        IngestBenchOptions o = *opt;
                        o.dir = scratch_dir(*dir);
                        o.progress = ctx.progress();
                        const nlohmann::json r = bench_ingest(o, *ctx.log);
                        ctx.out.result(
                            r, fmt::format(
                                   "ingest: {} records in {:.2f} s = {:.0f} records/s "
                                   "(read {:.2f} s, plan {:.2f} s, write {:.2f} s, index {:.2f} s)\n"
                                   "lookup: {} random IDs in {:.3f} s ({:.1f} us each)\n"
                                   "peak memory: {:.0f} MiB\n"
                                   "machine sgemm peak: {:.1f} GFLOP/s",
                                   r["records"].get<int64_t>(), r["ingest_seconds"].get<double>(),
                                   r["ingest_records_per_s"].get<double>(),
                                   r["phases_s"]["read"].get<double>(), r["phases_s"]["plan"].get<double>(),
                                   r["phases_s"]["write"].get<double>(), r["phases_s"]["index"].get<double>(),
                                   r["lookups"].get<int64_t>(), r["lookup_seconds"].get<double>(),
                                   r["lookup_us_each"].get<double>(), r["peak_rss_mib"].get<double>(),
                                   r["sgemm_peak_gflops"].get<double>()));
                      }});

  auto* forget = group->add_subcommand(
      "forget",
      "Generate N synthetic JSONL records and ingest them into a scratch workspace (no training), then "
      "forget owners one request at a time; times the durable acknowledgement and the purge separately");
  auto fopt = std::make_shared<ForgetBenchOptions>();
  auto fdir = std::make_shared<std::string>();
  forget->add_option("--records", fopt->records, "Records to generate")->capture_default_str()->check(CLI::PositiveNumber);
  forget->add_option("--owners", fopt->owners, "Distinct owners (0 = records / 10)");
  forget->add_option("--shards", fopt->shards, "Shards")->capture_default_str()->check(CLI::PositiveNumber);
  forget->add_option("--slices", fopt->slices, "Slices per shard")->capture_default_str()->check(CLI::PositiveNumber);
  forget->add_option("--forgets", fopt->forgets, "Owners forgotten, one request each")
      ->capture_default_str()->check(CLI::PositiveNumber);
  forget->add_option("--dir", *fdir, "Where the scratch folder lethe-bench-<pid> goes (removed afterwards; default: $TMPDIR, else /tmp)");
  commands.push_back({forget, [=](Context& ctx) {
                        ForgetBenchOptions o = *fopt;
                        o.dir = scratch_dir(*fdir);
                        o.progress = ctx.progress();
                        const nlohmann::json r = bench_forget(o, *ctx.log);
                        ctx.out.result(
                            r, fmt::format("forget: {} owners of {} records ({} x {} slices; ingest {:.0f} records/s)\n"
                                           "  open the workspace: median {:.1f} ms\n"
                                           "  durable acknowledgement: median {:.1f} ms, max {:.1f} ms\n"
                                           "  purge: median {:.2f} s per request; per slice median {:.2f} s, max {:.2f} s\n"
                                           "machine sgemm peak: {:.1f} GFLOP/s",
                                           r["forgets"].size(), r["records"].get<int64_t>(), r["shards"].get<int>(),
                                           r["slices_per_shard"].get<int>(), r["ingest_records_per_s"].get<double>(),
                                           1e3 * r["median_open_s"].get<double>(), 1e3 * r["median_ack_s"].get<double>(),
                                           1e3 * r["max_ack_s"].get<double>(), r["median_purge_s"].get<double>(),
                                           r["median_slice_purge_s"].get<double>(), r["max_slice_purge_s"].get<double>(),
                                           r["sgemm_peak_gflops"].get<double>()));
                      }});

  auto* train = group->add_subcommand(
      "train-step",
      "Time training steps of a Llama-structured model with a frozen base and LoRA on q_proj "
      "and v_proj (synthetic tokens); reports tokens/s and achieved GFLOP/s beside the "
      "machine's sgemm peak");
  auto topt = std::make_shared<TrainStepBenchOptions>();
  train->add_option("--preset", topt->preset, "Model size")
      ->check(CLI::IsMember({"tiny", "small"}))->capture_default_str();
  train->add_option("--batch", topt->batch_size, "Sequences per step")->capture_default_str();
  train->add_option("--seq", topt->seq_len, "Tokens per sequence (0 = the preset's)");
  train->add_option("--steps", topt->steps, "Timed steps (after 2 warm-up steps)")->capture_default_str();
  train->add_flag("--dp", topt->dp,
                  "Also time the DP-SGD step on the same batch (per-example clipping by ghost norms, noise) and "
                  "report its time relative to the non-private step");
  train->add_flag("--compare-python", topt->compare_python,
                  "Also run the same step in Python (transformers + PEFT; with --dp, Opacus) with the same torch, "
                  "sizes and threads (bench/python/train_step.py), and print Lethe's speed relative to it");
  train->add_option("--python", topt->python, "The Python for --compare-python (default: the venv Lethe was built with)");
  commands.push_back({train, [=](Context& ctx) {
                        TrainStepBenchOptions o = *topt;
                        o.device = select_device(ctx.config.runtime.device, ctx.config.runtime.precision);
                        if (o.compare_python && !o.device.device.is_cpu()) {
                          fail(ErrorKind::kUsage, "--compare-python compares steps on the CPU, where the Python "
                               "script runs; use --device cpu");
                        }
                        const nlohmann::json r = bench_train_step(o, *ctx.log);
                        std::string dp = !r.contains("dp_overhead") ? std::string() : fmt::format(
                            "\n  DP-SGD step: {:.3f} s/step, {:.2f}x the non-private step",
                            r["dp_seconds_per_step"].get<double>(), r["dp_overhead"].get<double>());
                        if (r.contains("python")) {
                          const auto& py = r["python"];
                          dp += fmt::format("\n  Python (transformers + PEFT, torch {}): {:.3f} s/step, {:.0f} tokens/s: "
                                            "Lethe {:.2f}x", py["torch"].get<std::string>(),
                                            py["seconds_per_step"].get<double>(), py["tokens_per_s"].get<double>(),
                                            r["python_ratio"].get<double>());
                          if (r.contains("opacus_ratio")) {
                            dp += fmt::format("\n  Opacus {} DP-SGD step: {:.3f} s/step: Lethe's is {:.2f}x faster",
                                              py["opacus"].get<std::string>(), py["dp_seconds_per_step"].get<double>(),
                                              r["opacus_ratio"].get<double>());
                          }
                        }
                        ctx.out.result(
                            r, fmt::format(
                                   "train-step ({} preset, hidden {}, {} layers, {} x {} tokens, LibTorch {} with {}, on {}, {} threads):\n"
                                   "  {:.3f} s/step, {:.0f} tokens/s, {:.1f} GFLOP/s achieved{}\n"
                                   "{} ({:.0f}% of the peak in the step's precision)",
                                   r["preset"].get<std::string>(), r["hidden_size"].get<int64_t>(),
                                   r["num_layers"].get<int64_t>(), r["batch_size"].get<int64_t>(),
                                   r["seq_len"].get<int64_t>(), r["libtorch"].get<std::string>(),
                                   r["blas"].get<std::string>(), r["device"].get<std::string>(), r["threads"].get<int>(),
                                   r["seconds_per_step"].get<double>(), r["tokens_per_s"].get<double>(),
                                   r["achieved_gflops"].get<double>(), dp,
                                   r.contains("gemm_peak_gflops_bf16")
                                       ? fmt::format("GPU GEMM peak fp32 {:.1f} GFLOP/s, bf16 {:.1f} GFLOP/s",
                                                     r["sgemm_peak_gflops"].get<double>(),
                                                     r["gemm_peak_gflops_bf16"].get<double>())
                                       : fmt::format("machine sgemm peak: {:.1f} GFLOP/s", r["sgemm_peak_gflops"].get<double>()),
                                   100 * r["fraction_of_peak"].get<double>()));
                      }});

  auto* reduction = group->add_subcommand(
      "reduction",
      "Under mpirun: time the data-parallel step's fixed-order gradient sum (every micro-batch's "
      "gradients to rank 0, added in micro-batch order, the sum sent back: what training does, the "
      "same bits for any rank count) against a plain MPI all-reduce of each rank's partial sum");
  auto ropt = std::make_shared<ReductionBenchOptions>();
  reduction->add_option("--floats", ropt->floats, "Gradient floats per micro-batch")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 28));
  reduction->add_option("--micro-batches", ropt->micro_batches, "Micro-batches per step, spread over the ranks")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  reduction->add_option("--rounds", ropt->rounds, "Timed steps (after 3 warm-up steps)")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  commands.push_back({reduction,
                      [=](Context& ctx) {
                        ReductionBenchOptions o = *ropt;
                        o.timeout = ctx.config.runtime.collective_timeout;
                        const nlohmann::json r = bench_reduction(ctx.comm, o);
                        if (!ctx.comm.is_root()) return;
                        ctx.out.result(
                            r, fmt::format("reduction over {} rank{}: {} micro-batches of {} floats ({:.2f} MiB) a step\n"
                                           "  fixed order (training): {:.3f} ms a step, median of {}\n"
                                           "  MPI all-reduce: {:.3f} ms a step ({:.2f}x); its sum {} (max |difference| {:g})\n"
                                           "machine memcpy at this size: {:.1f} GB/s; sgemm peak: {:.1f} GFLOP/s",
                                           r["ranks"].get<int>(), r["ranks"].get<int>() == 1 ? "" : "s",
                                           r["micro_batches"].get<int64_t>(), r["floats"].get<int64_t>(),
                                           r["bytes_per_micro_batch"].get<double>() / (1 << 20),
                                           1e3 * r["fixed_order_s"].get<double>(), r["rounds"].get<int>(),
                                           1e3 * r["allreduce_s"].get<double>(), r["fixed_over_allreduce"].get<double>(),
                                           r["sums_differ"].get<bool>() ? "differs in some bits" : "has the same bits",
                                           r["max_abs_difference"].get<double>(), r["memcpy_gbps"].get<double>(),
                                           r["sgemm_peak_gflops"].get<double>()));
                      },
                      true, true});

  auto* dp2 = group->add_subcommand(
      "dp2",
      "Compare three ways to forget on a copy of this workspace (data ingested, base pretrained): "
      "retraining from scratch (full), DP2Unlearning (dp2: fine-tune the DP base on retained data) and S3T. "
      "Trains each, forgets the same owners, unlearns, and reports wall time, records processed, test "
      "accuracy and the membership-inference AUC of the forgotten records; [privacy] and [train] apply");
  auto dopt = std::make_shared<Dp2BenchOptions>();
  dp2->add_option("--forget-owners", dopt->forget_owners, "Owners (with train records only) forgotten in one request")
      ->capture_default_str()->check(CLI::PositiveNumber);
  dp2->add_option("--seed", dopt->seed, "Seed of the owners drawn")->capture_default_str();
  commands.push_back({dp2, [=](Context& ctx) {
                        const nlohmann::json r = bench_dp2(ctx.options.workspace, ctx.config, *dopt, ctx.comm,
                                                           ctx.progress(), *ctx.log);
                        std::string text = fmt::format(
                            "bench dp2: forgot {} owners ({} records); DP base {}-level, target epsilon {:g}, delta {:g} ({})\n"
                            "  {:<6} {:>10} {:>12} {:>10} {:>12} {:>9} {:>9} {:>9}\n",
                            r["forgotten_owners"].get<int64_t>(), r["forgotten_records"].get<int64_t>(),
                            r["privacy"]["unit"].get<std::string>(), r["privacy"]["target_epsilon"].get<double>(),
                            r["privacy"]["delta"].get<double>(), r["privacy"]["accountant"].get<std::string>(),
                            "method", "train s", "unlearn s", "x full", "unlearn rec", "acc pre", "acc post", "MIA AUC");
                        for (const char* mode : {"full", "dp2", "s3t"}) {
                          const nlohmann::json& m = r["methods"][mode];
                          const nlohmann::json& auc = m["mia_auc_forgotten_vs_test"];
                          text += fmt::format("  {:<6} {:>10.1f} {:>12.1f} {:>10.2f} {:>12} {:>8.1f}% {:>8.1f}% {:>9}\n", mode,
                                              m["train_seconds"].get<double>(), m["unlearn_seconds"].get<double>(),
                                              m["unlearn_seconds_vs_full"].get<double>(),
                                              m["unlearn_samples"].get<int64_t>(), 100 * m["accuracy_before"].get<double>(),
                                              100 * m["accuracy_after"].get<double>(),
                                              auc.is_null() ? std::string("n/a") : fmt::format("{:.3f}", auc.get<double>()));
                        }
                        text += fmt::format("machine sgemm peak: {:.1f} GFLOP/s", r["sgemm_peak_gflops"].get<double>());
                        ctx.out.result(r, text);
                      }});
}

}  // namespace lethe
