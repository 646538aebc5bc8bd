// Running the real `lethe` on a workspace from end-to-end tests (Catch assertions inside).
#pragma once

#include <catch2/catch.hpp>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/common/fs.h"
#include "src/common/subprocess.h"
#include "tests/support/run_process.h"

namespace lethe::test {

// `lethe --workspace WS ARGS...`.
inline ProcessResult lethe_in(const fs::path& ws, std::vector<std::string> args,
                              const RunOptions& options = {}) {
  args.insert(args.begin(), {"--workspace", ws.string()});
  return run_lethe(args, options);
}

// `lethe --json --workspace WS ARGS...`, required to exit with `expected_exit`; returns the
// last line of stdout parsed (null when a failure was expected).
inline nlohmann::json lethe_json(const fs::path& ws, std::vector<std::string> args,
                                 int expected_exit = 0) {
  args.insert(args.begin(), "--json");
  const ProcessResult r = lethe_in(ws, args);
  INFO("lethe " << args[1] << " stderr: " << r.err);
  REQUIRE(r.exit_code == expected_exit);
  if (expected_exit != 0) return nullptr;
  const auto lines = lines_of(r.out);
  REQUIRE(!lines.empty());
  return nlohmann::json::parse(lines.back());
}

// `mpirun -np RANKS lethe --workspace WS ARGS...`, as a user on this machine would run it:
// --oversubscribe (more ranks than cores), --allow-run-as-root when root, and every
// variable of options.env exported to the ranks.
inline ProcessResult mpirun_in(int ranks, const fs::path& ws, std::vector<std::string> args,
                               const RunOptions& options = {}) {
  const auto mpirun = find_in_path("mpirun");
  REQUIRE(mpirun);
  std::vector<std::string> argv = {mpirun->string(), "-np", std::to_string(ranks), "--oversubscribe"};
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  for (const std::string& e : options.env) argv.insert(argv.end(), {"-x", e.substr(0, e.find('='))});
  argv.insert(argv.end(), {LETHE_BIN, "--workspace", ws.string()});
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, options);
}

// mpirun_in with --json, required to succeed; returns the last line of stdout parsed.
inline nlohmann::json mpirun_json(int ranks, const fs::path& ws, std::vector<std::string> args) {
  args.insert(args.begin(), "--json");
  const ProcessResult r = mpirun_in(ranks, ws, args);
  INFO("mpirun -np " << ranks << " lethe " << args[1] << " stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(!lines.empty());
  return nlohmann::json::parse(lines.back());
}

}  // namespace lethe::test
