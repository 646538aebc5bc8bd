// Configuration loading: every error names the file, line and key, and what was expected.
#include <catch2/catch.hpp>

#include "src/common/error.h"
#include "src/config/config.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

// Loads `text` and returns the error message, failing the test if there was none.
std::string load_error(const std::string& text, ErrorKind expected = ErrorKind::kUsage) {
  Config config;
  try {
    load_config_text(text, "cfg.toml", config);
  } catch (const Error& e) {
    CHECK(e.kind() == expected);
    return e.what();
  }
  FAIL("expected a configuration error for:\n" << text);
  return {};
}

}  // namespace

TEST_CASE("config: defaults are documented values", "[config]") {
  Config config;
  CHECK(config.runtime.threads == 0);
  CHECK(config.runtime.log_level == "info");
}

TEST_CASE("config: a valid file overrides only the keys it sets", "[config]") {
  Config config;
  load_config_text("[runtime]\nthreads = 3\n", "cfg.toml", config);
  CHECK(config.runtime.threads == 3);
  CHECK(config.runtime.log_level == "info");
}

TEST_CASE("config: unknown key names file, line, key and a suggestion", "[config]") {
  const std::string msg = load_error("[runtime]\nthreads = 2\nthread = 4\n");
  CHECK_THAT(msg, Catch::Contains("cfg.toml:3:"));
  CHECK_THAT(msg, Catch::Contains("unknown key 'runtime.thread'"));
  CHECK_THAT(msg, Catch::Contains("did you mean 'threads'"));
}

TEST_CASE("config: unknown section is an error with its line", "[config]") {
  const std::string msg = load_error("\n[runtim]\nthreads = 2\n");
  CHECK_THAT(msg, Catch::Contains("cfg.toml:2:"));
  CHECK_THAT(msg, Catch::Contains("did you mean 'runtime'"));
}

TEST_CASE("config: wrong type names the expected type", "[config]") {
  const std::string msg = load_error("[runtime]\nthreads = \"four\"\n");
  CHECK_THAT(msg, Catch::Contains("cfg.toml:2:"));
  CHECK_THAT(msg, Catch::Contains("key 'runtime.threads': expected an integer in [0, 1024], got a string"));
}

TEST_CASE("config: out of range value names the allowed range", "[config]") {
  CHECK_THAT(load_error("[runtime]\nthreads = 5000\n"),
             Catch::Contains("cfg.toml:2: key 'runtime.threads': expected an integer in [0, 1024], got 5000"));
  CHECK_THAT(load_error("[runtime]\nthreads = -1\n"), Catch::Contains("got -1"));
  CHECK_THAT(load_error("[runtime]\nlog_level = \"loud\"\n"),
             Catch::Contains("expected one of \"trace\", \"debug\""));
}

TEST_CASE("config: syntax error names line and column", "[config]") {
  CHECK_THAT(load_error("[runtime]\nthreads = = 2\n"), Catch::Contains("cfg.toml:2:"));
  CHECK_THAT(load_error("[runtime]\nthreads = = 2\n"), Catch::Contains("TOML syntax error"));
}

TEST_CASE("config: every problem is reported, in line order", "[config]") {
  const std::string msg = load_error("[runtime]\nbogus = 1\nthreads = 9999\n");
  const auto first = msg.find("cfg.toml:2:");
  const auto second = msg.find("cfg.toml:3:");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
}

TEST_CASE("config: a failed load leaves the config unchanged", "[config]") {
  Config config;
  config.runtime.threads = 7;
  CHECK_THROWS_AS(load_config_text("[runtime]\nthreads = 1\nbogus = 2\n", "cfg.toml", config), Error);
  CHECK(config.runtime.threads == 7);
}

TEST_CASE("config: resolved TOML round-trips", "[config]") {
  Config config;
  config.runtime.threads = 5;
  config.runtime.log_level = "debug";
  Config loaded;
  load_config_text(config_to_toml(config), "resolved.toml", loaded);
  CHECK(loaded == config);
}

TEST_CASE("config: --set overrides parse TOML values and bare words", "[config]") {
  Config config;
  apply_config_override("runtime.threads=2", config);
  apply_config_override("runtime.log_level = warn", config);
  CHECK(config.runtime.threads == 2);
  CHECK(config.runtime.log_level == "warn");
  CHECK_THROWS_AS(apply_config_override("runtime.threads", config), Error);
  CHECK_THROWS_AS(apply_config_override("threads=2", config), Error);
  try {
    apply_config_override("runtime.threads=many", config);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("--set runtime.threads"));
    CHECK_THAT(e.what(), Catch::Contains("expected an integer"));
  }
}

TEST_CASE("config: a missing file is a usage error naming it", "[config]") {
  Config config;
  try {
    load_config_file("/nonexistent/lethe.toml", config);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUsage);
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/lethe.toml"));
  }
}

TEST_CASE("config: docs/config.md is the generated reference", "[config][docs]") {
  const std::string committed = read_file(fs::path(LETHE_SOURCE_DIR) / "docs" / "config.md");
  INFO("regenerate with: build/lethe config docs > docs/config.md");
  CHECK(committed == config_reference_markdown());
}
