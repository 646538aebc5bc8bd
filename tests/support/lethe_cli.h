// Running the real `lethe` on a workspace from end-to-end tests (Catch assertions inside).
#pragma once

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/common/fs.h"
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

}  // namespace lethe::test
