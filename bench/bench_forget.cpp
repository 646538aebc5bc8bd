#include "bench/bench_forget.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/sgemm.h"
#include "bench/synthetic_records.h"
#include "shards/plan.h"
#include "src/unlearning/forget.h"
#include "src/workspace/purge.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

nlohmann::json run_bench(const ForgetBenchOptions& opt, spdlog::logger& log) {
  const SyntheticWorkspace made = ingest_synthetic(opt.dir, opt.records, opt.owners, opt.shards, opt.slices,
                                                   opt.progress, log);
  const fs::path& root = made.root;
  const int64_t owners = made.owners;
  const double ingest_s = made.ingest_s;

  // Owners of records drawn at random, each forgotten in a request of its own, as a data
  // subject's request comes: open the workspace (the lock, the index), commit, purge.
  nlohmann::json runs = nlohmann::json::array();
  std::vector<double> open_s, ack_s, purge_s, slice_s;
  std::set<std::string> drawn;
  for (uint64_t k = 0; static_cast<int>(drawn.size()) < opt.forgets && k < 100U * static_cast<uint64_t>(opt.forgets); ++k) {
    const std::string owner = synthetic_owner(splitmix64(k ^ 0xf0f0) % static_cast<uint64_t>(opt.records), owners);
    if (!drawn.insert(owner).second) continue;
    const auto t0 = Clock::now();
    auto w = open_workspace_for_write(root, "lethe bench forget");
    const auto t1 = Clock::now();
    ForgetRequest req;
    req.owners = {owner};
    req.request_id = fmt::format("bench-{}", drawn.size());
    req.reason = "benchmark";
    const ForgetResult r = commit_forget(w.ws, req, 0);
    const auto t2 = Clock::now();
    const PurgeReport p = purge_pending(w.ws);
    const auto t3 = Clock::now();
    open_s.push_back(seconds_between(t0, t1));
    ack_s.push_back(seconds_between(t1, t2));
    purge_s.push_back(seconds_between(t2, t3));
    nlohmann::json slices = nlohmann::json::array();
    for (const PurgedSlice& s : p.slices) {
      slice_s.push_back(s.seconds);
      slices.push_back({{"records_before", s.records_before}, {"removed", s.removed_records}, {"seconds", s.seconds}});
    }
    runs.push_back({{"deleted", r.deleted}, {"open_s", open_s.back()}, {"ack_s", ack_s.back()},
                    {"purge_s", purge_s.back()}, {"slices", slices}});
  }
  return {
      {"benchmark", "forget"},
      {"records", opt.records},
      {"owners", owners},
      {"shards", opt.shards},
      {"slices_per_shard", opt.slices},
      {"ingest_seconds", ingest_s},
      {"ingest_records_per_s", static_cast<double>(opt.records) / ingest_s},
      {"forgets", runs},
      {"median_open_s", median(open_s)},
      {"median_ack_s", median(ack_s)},
      {"max_ack_s", ack_s.empty() ? 0.0 : *std::max_element(ack_s.begin(), ack_s.end())},
      {"median_purge_s", median(purge_s)},
      {"median_slice_purge_s", median(slice_s)},
      {"max_slice_purge_s", slice_s.empty() ? 0.0 : *std::max_element(slice_s.begin(), slice_s.end())},
      {"sgemm_peak_gflops", measure_sgemm_gflops()},
  };
}

}  // namespace

nlohmann::json bench_forget(const ForgetBenchOptions& options, spdlog::logger& log) {
  nlohmann::json result = run_bench(options, log);
  fs::remove_all(options.dir);
  return result;
}

}  // namespace lethe
