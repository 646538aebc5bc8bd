// The `lethe` binary as a user and a script see it: version, help, exit codes, --json.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "src/workspace/layout.h"
#include "src/workspace/lock.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::run_lethe;

namespace {

// Every line of `text` must be one JSON object.
void require_json_lines(const std::string& text) {
  const auto lines = test::lines_of(text);
  for (const auto& line : lines) {
    INFO(line);
    const auto j = nlohmann::json::parse(line);
    CHECK(j.is_object());
  }
}

}  // namespace

TEST_CASE("cli: --version names OpenBLAS as the BLAS in use", "[cli]") {
  const auto r = run_lethe({"--version"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("lethe 0."));
  CHECK_THAT(r.out, Catch::Contains("BLAS      OpenBLAS"));
  CHECK_THAT(r.out, Catch::Contains("LibTorch  1."));
  CHECK_THAT(r.out, Catch::Contains("Open MPI"));
  CHECK_THAT(r.out, Catch::Contains("CUDA      off"));
}

TEST_CASE("cli: --version --json is one JSON object with the build facts", "[cli][json]") {
  const auto r = run_lethe({"--version", "--json"});
  REQUIRE(r.exit_code == 0);
  REQUIRE(test::lines_of(r.out).size() == 1);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["blas"]["name"] == "OpenBLAS");
  CHECK(j["blas"]["fast"] == true);
  CHECK(j["cuda"] == false);
  CHECK(j.contains("commit"));
  CHECK(j.contains("libtorch"));
  CHECK(j.contains("mpi"));
}

TEST_CASE("cli: --help explains the commands and exit codes", "[cli]") {
  const auto r = run_lethe({"--help"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("init"));
  CHECK_THAT(r.out, Catch::Contains("quickstart"));
  CHECK_THAT(r.out, Catch::Contains("Exit codes"));
}

TEST_CASE("cli: no command or an unknown one is a usage error", "[cli]") {
  CHECK(run_lethe({}).exit_code == 2);
  const auto r = run_lethe({"frobnicate"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("cli: init creates a workspace, refuses a second init, and --force replaces it", "[cli][init]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  const auto first = run_lethe({"--workspace", ws, "init"});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("Created workspace"));

  const auto second = run_lethe({"--workspace", ws, "init"});
  CHECK(second.exit_code == 6);
  CHECK_THAT(second.err, Catch::Contains("already exists"));
  CHECK_THAT(second.err, Catch::Contains("--force"));

  const auto forced = run_lethe({"init", "--force", "--workspace", ws});
  INFO(forced.err);
  CHECK(forced.exit_code == 0);
  CHECK_THAT(forced.out, Catch::Contains("Replaced workspace"));
}

TEST_CASE("cli: the workspace can come from LETHE_WORKSPACE", "[cli][init]") {
  test::TempDir dir;
  test::RunOptions opts;
  opts.env = {"LETHE_WORKSPACE=" + (dir / "from-env").string()};
  REQUIRE(run_lethe({"init"}, opts).exit_code == 0);
  CHECK(fs::exists(dir / "from-env" / "lethe.toml"));
}

TEST_CASE("cli: a second concurrent writer is refused with the holder's PID", "[cli][lock]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  REQUIRE(run_lethe({"--workspace", ws, "init"}).exit_code == 0);
  // This test process plays the first writer.
  auto held = WorkspaceLock::acquire(lock_file(ws), "lethe train (test holder)");
  const auto r = run_lethe({"--workspace", ws, "init", "--force"});
  CHECK(r.exit_code == 6);
  CHECK_THAT(r.err, Catch::Contains("locked by PID " + std::to_string(getpid())));
  CHECK_THAT(r.err, Catch::Contains("lethe train (test holder)"));
}

TEST_CASE("cli: config errors exit 2 and name file, line and key", "[cli][config]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  struct Case {
    const char* toml;
    const char* expected;
  };
  const Case cases[] = {
      {"[runtime]\nthreads = 2\nthraeds = 3\n", "bad.toml:3: unknown key 'runtime.thraeds'"},
      {"[runtime]\n\nthreads = \"x\"\n", "bad.toml:3: key 'runtime.threads': expected an integer"},
      {"[runtime]\nthreads = 100000\n", "bad.toml:2: key 'runtime.threads': expected an integer in [0, 1024], got 100000"},
  };
  for (const Case& c : cases) {
    const fs::path file = dir / "bad.toml";
    test::write_text(file, c.toml);
    const auto r = run_lethe({"--workspace", ws, "init", "--config", file.string()});
    INFO(c.toml);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(c.expected));
    CHECK_FALSE(fs::exists(ws));  // nothing written on a config error
  }
}

TEST_CASE("cli: --json errors are JSON lines with kind and exit code", "[cli][json]") {
  test::TempDir dir;
  const fs::path file = dir / "bad.toml";
  test::write_text(file, "[runtime]\nthreads = -5\n");
  const auto r = run_lethe({"--json", "--workspace", (dir / "ws").string(), "init", "--config",
                            file.string()});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  require_json_lines(r.err);
  const auto j = nlohmann::json::parse(test::lines_of(r.err).back());
  CHECK(j["event"] == "error");
  CHECK(j["kind"] == "usage");
  CHECK(j["exit_code"] == 2);
  CHECK_THAT(j["message"].get<std::string>(), Catch::Contains("bad.toml:2"));
}

TEST_CASE("cli: flags override the config and are validated like config keys", "[cli][config]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  const fs::path file = dir / "c.toml";
  test::write_text(file, "[runtime]\nthreads = 3\nlog_level = \"warn\"\n");
  REQUIRE(run_lethe({"--workspace", ws, "init", "--config", file.string()}).exit_code == 0);

  // The workspace's lethe.toml is the base; --set and --threads override it for one run.
  auto shown = run_lethe({"--workspace", ws, "--json", "config", "show"});
  REQUIRE(shown.exit_code == 0);
  auto j = nlohmann::json::parse(shown.out);
  CHECK(j["config"]["runtime"]["threads"] == 3);
  CHECK(j["config"]["runtime"]["log_level"] == "warn");

  shown = run_lethe({"--workspace", ws, "--json", "--threads", "1", "--set",
                     "runtime.log_level=error", "config", "show"});
  REQUIRE(shown.exit_code == 0);
  j = nlohmann::json::parse(shown.out);
  CHECK(j["config"]["runtime"]["threads"] == 1);
  CHECK(j["config"]["runtime"]["log_level"] == "error");

  const auto bad = run_lethe({"--workspace", ws, "--threads", "5000", "config", "show"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("runtime.threads"));
}

TEST_CASE("cli: --json output of every command parses as JSON", "[cli][json]") {
  test::TempDir dir;
  const std::string ws = (dir / "ws").string();
  const std::vector<std::vector<std::string>> commands = {
      {"init"}, {"config", "show"}, {"config", "docs"}, {"--version"}, {"quickstart"},
  };
  for (auto args : commands) {
    std::vector<std::string> full = {"--json", "--workspace", ws};
    full.insert(full.end(), args.begin(), args.end());
    const auto r = run_lethe(full);
    INFO(args[0] << ": " << r.err);
    // quickstart replaces only its own workspaces; run it in a fresh directory.
    if (args[0] == "quickstart") CHECK(r.exit_code == 6);
    else CHECK(r.exit_code == 0);
    require_json_lines(r.out);
    require_json_lines(r.err);
  }
}
