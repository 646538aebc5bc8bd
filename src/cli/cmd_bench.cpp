// lethe bench: measured performance, printed beside the machine's sgemm peak.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include "bench/bench_ingest.h"
#include "src/cli/context.h"

namespace lethe {

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
  ingest->add_option("--dir", *dir, "Scratch directory (default: $TMPDIR/lethe-bench-<pid>)");
  commands.push_back({ingest, [=](Context& ctx) {
                        IngestBenchOptions o = *opt;
                        const char* tmp = std::getenv("TMPDIR");
                        o.dir = !dir->empty() ? fs::path(*dir)
                                              : fs::path(tmp && *tmp ? tmp : "/tmp") /
                                                    ("lethe-bench-" + std::to_string(getpid()));
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
}

}  // namespace lethe
