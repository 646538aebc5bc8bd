#include "bench/bench_ingest.h"

#include <sys/resource.h>

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/sgemm.h"
#include "bench/synthetic_records.h"
#include "shards/plan.h"
#include "src/common/error.h"
#include "src/index/lineage_index.h"
#include "src/ingest/ingest.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// The measured part; the workspace is closed when it returns, so the caller can delete it.
nlohmann::json run_bench(const IngestBenchOptions& opt, spdlog::logger& log) {
  const SyntheticWorkspace made = ingest_synthetic(opt.dir, opt.records, opt.owners, opt.shards, opt.slices,
                                                   opt.progress, log);
  const int64_t owners = made.owners;
  const IngestReport& report = made.report;
  const double read_s = made.read_s, total_s = made.ingest_s;
  Workspace ws = open_workspace(made.root);

  // Timed: point lookups of random IDs through the index's ID index (existing_ids: one
  // prepared statement, a covering B-tree search per ID).
  ByteColumn ids;
  for (int64_t k = 0; k < opt.lookups; ++k) {
    ids.push(synthetic_record_id(splitmix64(static_cast<uint64_t>(k) ^ 0xabcdef) % static_cast<uint64_t>(opt.records)));
  }
  const auto t1 = std::chrono::steady_clock::now();
  const int64_t found = static_cast<int64_t>(existing_ids(ws.db, ids, ids.size()).size());
  const double lookup_s = seconds_since(t1);
  if (found != opt.lookups) fail(ErrorKind::kInternal, "lookup found {} of {} IDs", found, opt.lookups);

  const double sgemm = measure_sgemm_gflops();
  nlohmann::json result = {
      {"benchmark", "ingest"},
      {"records", opt.records},
      {"owners", owners},
      {"ingest_seconds", total_s},
      {"ingest_records_per_s", static_cast<double>(opt.records) / total_s},
      {"phases_s", {{"read", read_s}, {"plan", report.plan_s}, {"write", report.write_s}, {"index", report.index_s}}},
      {"lookups", opt.lookups},
      {"lookup_seconds", lookup_s},
      {"lookup_us_each", lookup_s / static_cast<double>(opt.lookups) * 1e6},
      {"peak_rss_mib", peak_rss_mib()},
      {"sgemm_peak_gflops", sgemm},
  };
  return result;
}

}  // namespace

nlohmann::json bench_ingest(const IngestBenchOptions& options, spdlog::logger& log) {
  nlohmann::json result = run_bench(options, log);
  fs::remove_all(options.dir);
  return result;
}

}  // namespace lethe
