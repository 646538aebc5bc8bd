// Running another program (quickstart launches `mpirun ... lethe train`): stdout and stderr
// pass through to ours, the exit status comes back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/common/fs.h"

namespace lethe {

// Runs argv[0] (searched in PATH) to completion. Returns its exit status, or 128 + signal when
// a signal ended it. ErrorKind::kInternal when it cannot be started.
int run_program(const std::vector<std::string>& argv);

// The full path of `name` in PATH, if there is one.
std::optional<fs::path> find_in_path(const std::string& name);

// This executable's path (/proc/self/exe).
fs::path self_executable();

}  // namespace lethe
