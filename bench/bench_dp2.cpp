#include "bench/bench_dp2.h"

#include <torch/torch.h>

#include <chrono>
#include <random>

#include "bench/sgemm.h"
#include "src/index/lineage_index.h"
#include "src/index/record_sets.h"
#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/serving/ensemble.h"
#include "src/trainers/train_run.h"
#include "src/trainers/workspace_data.h"
#include "src/unlearning/forget.h"
#include "src/unlearning/membership_inference.h"
#include "src/workspace/purge.h"
#include "src/workspace/scratch_copy.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

constexpr const char* kModes[] = {"full", "dp2", "s3t"};

struct Utility {
  double accuracy = 0;
  double perplexity = 0;  // text only
};

Utility evaluate(Workspace& ws, const Config& config, const std::string& mode, const Comm& comm) {
  const Ensemble e = load_ensemble(ws, config, mode);
  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const std::vector<uint32_t> rows = live_rows(ws.db, test_slice.slice_id);
  const bool lm = e.base.spec.arch == "llama";
  const EnsembleOutputs o = run_ensemble(comm, e, test, rows, Combine::kMean, lm);
  Utility u;
  u.accuracy = rows.empty() ? 0.0 : o.predicted.eq(o.labels).to(torch::kFloat64).mean().item<double>();
  if (lm) u.perplexity = perplexity(o.nll, o.tokens);
  return u;
}

// Owners all of whose records are live train records, `count` of them drawn with `seed` (a
// public owner's deletion would take the shared base away from every method alike).
std::vector<std::string> draw_private_owners(Workspace& ws, int64_t count, uint64_t seed) {
  std::vector<std::string> owners = owners_with_only_live_train_records(ws.db);
  if (static_cast<int64_t>(owners.size()) < count) {
    fail(ErrorKind::kUsage, "the workspace has {} owners with train records only; --forget-owners {} needs more",
         owners.size(), count);
  }
  std::mt19937_64 rng(seed);
  std::shuffle(owners.begin(), owners.end(), rng);
  owners.resize(static_cast<size_t>(count));
  return owners;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

nlohmann::json bench_dp2(const fs::path& workspace, const Config& base_config, const Dp2BenchOptions& o,
                         const Comm& comm, const ProgressOptions& progress, spdlog::logger& log) {
  if (comm.size != 1) fail(ErrorKind::kUsage, "bench dp2 runs as one process (its figures are single-rank costs)");
  // The copy holds the workspace's personal data and keys: it stays inside the workspace, made
  // and used under its lock, and goes when the run ends (or with the next writer after a crash).
  WritableWorkspace original = open_workspace_for_write(workspace, "lethe bench dp2");
  const ScratchCopy scratch(original, "bench-dp2");
  crash_point("bench.dp2_copied");
  log.info("bench dp2: working on a copy of '{}' in '{}'", workspace.string(), scratch.root().string());
  WritableWorkspace w = open_workspace_for_write(scratch.root(), "lethe bench dp2");
  Workspace& ws = w.ws;

  nlohmann::json methods = nlohmann::json::object();
  for (const char* mode : kModes) {
    Config c = base_config;
    c.train.mode = mode;
    TrainOptions options;
    options.from_scratch = true;
    const TrainReport r = train_model(ws, comm, c, options, progress, log);
    const Utility u = evaluate(ws, c, mode, comm);
    methods[mode] = {{"train_seconds", r.seconds}, {"train_samples", r.samples}, {"accuracy_before", u.accuracy}};
    if (u.perplexity > 0) methods[mode]["perplexity_before"] = u.perplexity;
  }

  ForgetRequest request;
  request.owners = draw_private_owners(ws, o.forget_owners, o.seed);
  request.reason = "bench dp2";
  const ForgetResult forgotten = commit_forget(ws, request, 0);
  purge_pending(ws);
  log.info("bench dp2: forgot {} owners ({} records)", request.owners.size(), forgotten.deleted);

  for (const char* mode : kModes) {
    Config c = base_config;
    c.train.mode = mode;
    TrainOptions options;
    options.command = "retrain";
    options.restore_sequences = true;
    const auto t0 = std::chrono::steady_clock::now();
    const TrainReport r = train_model(ws, comm, c, options, progress, log);
    const double unlearn_seconds = seconds_since(t0);
    const Utility u = evaluate(ws, c, mode, comm);
    const MiaReport mia = membership_inference(ws, c, mode, comm);
    nlohmann::json& m = methods[mode];
    m["unlearn_seconds"] = unlearn_seconds;
    m["unlearn_samples"] = r.samples;
    m["accuracy_after"] = u.accuracy;
    if (u.perplexity > 0) m["perplexity_after"] = u.perplexity;
    m["mia_auc_forgotten_vs_test"] = mia.deleted_vs_test ? nlohmann::json(*mia.deleted_vs_test) : nullptr;
    m["mia_auc_retained_vs_test"] = mia.retained_vs_test ? nlohmann::json(*mia.retained_vs_test) : nullptr;
    m["forgotten_records_read_back"] = mia.deleted.records;
  }
  const double full_seconds = methods["full"]["unlearn_seconds"], full_samples = methods["full"]["unlearn_samples"];
  for (const char* mode : kModes) {
    nlohmann::json& m = methods[mode];
    m["unlearn_seconds_vs_full"] = m["unlearn_seconds"].get<double>() / full_seconds;
    m["unlearn_samples_vs_full"] = full_samples > 0 ? m["unlearn_samples"].get<double>() / full_samples : 0.0;
  }
  return {{"benchmark", "dp2"},
          {"forgotten_owners", request.owners.size()},
          {"forgotten_records", forgotten.deleted},
          {"privacy", {{"target_epsilon", base_config.privacy.target_epsilon}, {"delta", base_config.privacy.delta},
                       {"unit", base_config.privacy.unit}, {"accountant", base_config.privacy.accountant},
                       {"max_grad_norm", base_config.privacy.max_grad_norm}, {"epochs", base_config.privacy.epochs}}},
          {"methods", methods},
          {"sgemm_peak_gflops", measure_sgemm_gflops()}};
}

}  // namespace lethe
