// Where command results go. Results go to stdout: human text, or with --json exactly one JSON
// object per line. Logs and progress go to stderr (JSON lines too with --json), so a script can
// read stdout without filtering.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "src/common/fs.h"

#include <nlohmann/json_fwd.hpp>

namespace lethe {

struct Output {
  bool json = false;
  std::FILE* stream = stdout;
  std::optional<fs::path> result_file;  // --result-file: the JSON result also goes here

  // Prints `result` as one JSON line with --json, otherwise `human` (a newline is added);
  // with a result file, also writes the JSON there (atomically).
  void result(const nlohmann::json& result, const std::string& human) const;
};

}  // namespace lethe
