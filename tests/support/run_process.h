// Runs a program to completion and captures its exit code, stdout and stderr: how end-to-end
// tests drive the real `lethe` binary.
#pragma once

#include <string>
#include <vector>

#include "src/common/fs.h"

namespace lethe::test {

struct ProcessResult {
  int exit_code = -1;   // the process's exit status, or 128 + signal when killed
  std::string out;
  std::string err;
};

struct RunOptions {
  fs::path cwd;                        // empty: inherit
  std::vector<std::string> env;        // extra "NAME=value" entries
  std::string stdin_text;
};

ProcessResult run_process(const std::vector<std::string>& argv, const RunOptions& options = {});

// run_process({LETHE_BIN, args...}).
ProcessResult run_lethe(const std::vector<std::string>& args, const RunOptions& options = {});

// Splits text into lines, dropping a trailing empty line.
std::vector<std::string> lines_of(const std::string& text);

}  // namespace lethe::test
