#include "bench/synthetic_records.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "shards/plan.h"
#include "src/common/error.h"

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

}  // namespace lethe
