#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include "src/common/error.h"
#include "src/common/log.h"

using namespace lethe;

TEST_CASE("log: level names parse, others are usage errors naming the source", "[log]") {
  CHECK(parse_log_level("debug", "x") == spdlog::level::debug);
  CHECK(parse_log_level("off", "x") == spdlog::level::off);
  try {
    parse_log_level("chatty", "--log-level");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK_THAT(e.what(), Catch::Contains("--log-level"));
    CHECK_THAT(e.what(), Catch::Contains("chatty"));
  }
}
