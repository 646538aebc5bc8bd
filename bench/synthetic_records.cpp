#include "bench/synthetic_records.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shards/plan.h"
#include "src/common/error.h"
#include "src/workspace/workspace.h"

namespace lethe {

std::string synthetic_record_id(uint64_t i) { return fmt::format("rec-{:016x}", splitmix64(i)); }

std::string synthetic_owner(uint64_t i, int64_t owners) {
  return fmt::format("user-{}", splitmix64(i ^ 0x5eed) % static_cast<uint64_t>(owners));
}

void write_synthetic_jsonl(const fs::path& path, int64_t n, int64_t owners, const ProgressOptions& popt) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) fail_errno("cannot create", path.string());
  Progress progress("generate records", static_cast<uint64_t>(n), popt);
  for (int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<uint64_t>(i);
    std::fprintf(f, "{\"id\":\"%s\",\"owner\":\"%s\",\"label\":\"%s\",\"text\":\"message %lld about item %lld\"}\n",
                 synthetic_record_id(u).c_str(), synthetic_owner(u, owners).c_str(), i % 3 == 0 ? "spam" : "ham",
                 static_cast<long long>(i), static_cast<long long>(i % 977));
    if (i % 4096 == 0) progress.advance(std::min<int64_t>(4096, n - i));
  }
  progress.finish();
  if (std::fclose(f) != 0) fail_errno("cannot write", path.string());
}

SyntheticWorkspace ingest_synthetic(const fs::path& dir, int64_t records, int64_t owners, int shards, int slices,
                                    const ProgressOptions& progress, spdlog::logger& log) {
  using Clock = std::chrono::steady_clock;
  SyntheticWorkspace out;
  out.owners = owners > 0 ? owners : std::max<int64_t>(1, records / 10);
  fs::create_directories(dir);
  const fs::path input = dir / "records.jsonl";
  out.root = dir / "ws";
  log.info("generating {} records ({} owners) in {}", records, out.owners, input.string());
  write_synthetic_jsonl(input, records, out.owners, progress);

  Config config;
  config.data.source = "jsonl";
  config.data.path = input.string();
  config.plan.shards = shards;
  config.plan.slices = slices;
  CreateOptions create;
  create.force = true;
  create_workspace(out.root, config, create);
  auto w = open_workspace_for_write(out.root, "lethe bench");
  const auto t0 = Clock::now();
  LoadedSource source = load_source(config.data);
  out.read_s = std::chrono::duration<double>(Clock::now() - t0).count();
  IngestOptions io;
  io.progress = progress;
  out.report = ingest(w.ws, config, std::move(source), io, log);
  out.ingest_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

}  // namespace lethe
