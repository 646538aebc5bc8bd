#include <catch2/catch.hpp>

#include <set>

#include "src/common/error.h"

using namespace lethe;

TEST_CASE("error: every category has its own documented exit code", "[error]") {
  const ErrorKind kinds[] = {ErrorKind::kUsage,    ErrorKind::kInput,    ErrorKind::kIntegrity,
                             ErrorKind::kNotFound, ErrorKind::kConflict, ErrorKind::kInternal};
  std::set<int> codes;
  for (ErrorKind k : kinds) {
    const int code = exit_code(k);
    CHECK(code != 0);
    CHECK(code != 1);  // 1 is what a crash or a shell failure looks like; keep it unambiguous
    codes.insert(code);
  }
  CHECK(codes.size() == std::size(kinds));
  CHECK(exit_code(ErrorKind::kUsage) == 2);
  CHECK(exit_code(ErrorKind::kConflict) == 6);
}

TEST_CASE("error: fail() formats its message", "[error]") {
  try {
    fail(ErrorKind::kInput, "{}:{}: bad field '{}'", "a.jsonl", 3, "label");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK(std::string(e.what()) == "a.jsonl:3: bad field 'label'");
  }
}
