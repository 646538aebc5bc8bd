// Checking a deletion certificate (src/audit/certificate_check.cpp) is done on files from
// anywhere: whatever the file holds, the answer is a list of problems, never an exception or
// undefined behaviour. The inputs below are regressions kept with tests/fuzz/certificate_fuzz.
#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>

#include "src/audit/certificate.h"
#include "src/common/fs.h"

using namespace lethe;

namespace {

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("certificate check: a number no integer can hold is a problem, not undefined behaviour",
          "[certificate]") {
  REQUIRE(sodium_init() >= 0);
  const std::string key(32, '\x5a');
  // A ledger entry whose seq is 1e300: converting it to int64 was undefined (UBSan).
  const std::string text =
      read_file(fs::path(LETHE_SOURCE_DIR) / "tests/fuzz/corpus/certificate_fuzz/regression-float-seq.json");
  std::vector<std::string> problems;
  REQUIRE_NOTHROW(problems = check_certificate(text, key));
  CHECK(mentions(problems, "seq is not an integer"));
  // A number beyond double's range: nlohmann throws out_of_range, which escaped.
  REQUIRE_NOTHROW(problems = check_certificate("{\"format\": 1e999}", key));
  REQUIRE(problems.size() == 1);
  CHECK(mentions(problems, "not a valid JSON document"));
}
