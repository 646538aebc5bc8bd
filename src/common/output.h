// Where command results go. Results go to stdout: human text, or with --json exactly one JSON
// object per line. Logs and progress go to stderr (JSON lines too with --json), so a script can
// read stdout without filtering.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace lethe {

struct Output {
  bool json = false;
  std::FILE* stream = stdout;

  // Prints `result` as one JSON line with --json, otherwise `human` (a newline is added).
  void result(const nlohmann::json& result, const std::string& human) const;
};

}  // namespace lethe
