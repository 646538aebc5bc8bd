#include "tests/support/trained_workspace.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/run_process.h"

namespace lethe::test {

namespace {

fs::path shared_dir() { return fs::path(LETHE_FIXTURE_DIR) / "trained-small"; }
fs::path stamp_file() { return fs::path(LETHE_FIXTURE_DIR) / "trained-small.stamp"; }

// What the shared workspace was built with: the lethe binary's size and modification time.
std::string binary_stamp() {
  const fs::path bin = LETHE_BIN;
  return std::to_string(fs::file_size(bin)) + " " +
         std::to_string(fs::last_write_time(bin).time_since_epoch().count()) + "\n";
}

bool fresh() {
  return fs::is_directory(shared_dir()) && fs::exists(stamp_file()) && read_file(stamp_file()) == binary_stamp();
}

void lethe_ok(const fs::path& ws, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"--workspace", ws.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult r = run_lethe(argv);
  INFO("lethe " << args.front() << " stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

void build_trained_workspace() {
  const std::string stamp = binary_stamp();
  const fs::path dir = LETHE_FIXTURE_DIR;
  const std::string tag = std::to_string(::getpid());
  const fs::path tmp = dir / ("trained-small.tmp-" + tag), config = dir / ("small-" + tag + ".toml");
  fs::create_directories(dir);
  fs::remove_all(tmp);
  write_file_atomic(config, kTrainedConfig);
  lethe_ok(tmp, {"init", "--config", config.string()});
  fs::remove(config);
  lethe_ok(tmp, {"ingest", "--dataset", "fashion-mnist", "--limit", "4000"});
  lethe_ok(tmp, {"pretrain"});
  // One thread, as each rank of a 2-rank mpirun on 2 cores: tests that retrain it under mpirun
  // compare with training from scratch, and MKL's GEMM can differ in the last bits between 1 and
  // 2 threads (docs/gpu.md, "Determinism").
  lethe_ok(tmp, {"--threads", "1", "train"});
  // Into place: the previous one (if any) goes aside first, then away.
  const fs::path old = dir / ("trained-small.old-" + tag);
  std::error_code ec;
  fs::remove(stamp_file(), ec);
  if (fs::exists(shared_dir())) fs::rename(shared_dir(), old);
  fs::rename(tmp, shared_dir());
  fs::remove_all(old, ec);
  write_file_atomic(stamp_file(), stamp);
}

void copy_trained_workspace(const fs::path& dest) {
  if (!fresh()) build_trained_workspace();
  fs::copy(shared_dir(), dest, fs::copy_options::recursive);
}

}  // namespace lethe::test
