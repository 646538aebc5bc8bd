// The `lethe` binary as a user and a script see it: version, help, exit codes, --json.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "src/workspace/layout.h"
#include "src/workspace/lock.h"
#include "tests/support/run_process.h"
#include "tests/support/serve_process.h"
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

// The subcommand names of a `--help` text (CLI11: indented names under "Subcommands:").
std::vector<std::string> subcommands(const std::string& help) {
  std::vector<std::string> out;
  bool in_list = false;
  for (const std::string& line : test::lines_of(help)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_list = true;
      continue;
    }
    if (!in_list) continue;
    if (line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') break;
    out.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return out;
}

}  // namespace

TEST_CASE("cli: --version names LibTorch 2 from the torch wheel and its BLAS, MKL", "[cli]") {
  const auto r = run_lethe({"--version"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("lethe 0."));
  CHECK_THAT(r.out, Catch::Contains("BLAS      MKL (Intel(R) oneAPI Math Kernel Library Version"));
  CHECK_THAT(r.out, Catch::Contains("LibTorch  2."));
  CHECK_THAT(r.out, Catch::Contains("Open MPI"));
}

TEST_CASE("cli: --version says CUDA is built in and names the CUDA runtime, the GPUs (or why none) and NCCL",
          "[cli]") {
  const auto r = run_lethe({"--version"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("CUDA      on (runtime 13."));
  CHECK_THAT(r.out, Catch::Contains("NCCL      2."));
  const auto j = nlohmann::json::parse(run_lethe({"--version", "--json"}).out);
  CHECK(j["cuda"] == true);
  // A machine without a GPU says why, and that it computes on the CPU; one with GPUs names them.
  if (j["gpus"].empty()) {
    CHECK(!j["no_gpu_reason"].get<std::string>().empty());
    CHECK_THAT(r.out, Catch::Contains("no GPU (") && Catch::Contains("runs on the CPU"));
  } else {
    CHECK_THAT(r.out, Catch::Contains("GPU 0: " + j["gpus"][0].get<std::string>()));
  }
}

TEST_CASE("cli: --version --json is one JSON object with the build facts", "[cli][json]") {
  const auto r = run_lethe({"--version", "--json"});
  REQUIRE(r.exit_code == 0);
  REQUIRE(test::lines_of(r.out).size() == 1);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["blas"]["name"] == "MKL");
  CHECK(j.contains("nccl"));
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
  // Every command `lethe --help` lists, and every subcommand of a group, runs below and
  // succeeds: on a small quickstart workspace (made by quickstart itself), a fresh one for
  // init, ingest and import-base, or none.
  std::set<std::string> listed = {"--version"};
  for (const std::string& name : subcommands(run_lethe({"--help"}).out)) {
    const std::vector<std::string> inner = subcommands(run_lethe({name, "--help"}).out);
    if (inner.empty()) listed.insert(name);
    for (const std::string& sub : inner) listed.insert(name + " " + sub);
  }
  REQUIRE(listed.size() > 20);

  const std::vector<std::string> small = {"--set", "plan.slices=2", "--set", "model.num_layers=2", "--set",
                                          "pretrain.epochs=1", "--set", "train.epochs_per_stage=1",
                                          "--set", "privacy.delta=1e-4", "--set", "privacy.epochs=1"};
  const std::string ws = (dir / "ws").string(), fresh = (dir / "fresh").string();
  std::set<std::string> covered;
  // Runs `lethe --json [--workspace W] SMALL... ARGS` as command `name`; returns its result.
  const auto json_of = [&](const std::string& name, const std::string& workspace, std::vector<std::string> args) {
    std::vector<std::string> full = {"--json"};
    if (!workspace.empty()) full.insert(full.end(), {"--workspace", workspace});
    if (!workspace.empty()) full.insert(full.end(), small.begin(), small.end());
    full.insert(full.end(), args.begin(), args.end());
    const auto r = run_lethe(full);
    INFO(name << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    require_json_lines(r.out);
    require_json_lines(r.err);
    const auto lines = test::lines_of(r.out);
    REQUIRE(!lines.empty());
    covered.insert(name);
    return nlohmann::json::parse(lines.back());
  };

  json_of("--version", "", {"--version"});
  json_of("privacy epsilon", "", {"privacy", "epsilon", "--noise-multiplier", "1", "--sample-rate", "0.01", "--steps",
                                  "100", "--delta", "1e-5"});
  json_of("privacy noise", "", {"privacy", "noise", "--target-epsilon", "2", "--sample-rate", "0.01", "--steps", "100",
                                "--delta", "1e-5"});
  json_of("bench ingest", "", {"bench", "ingest", "--records", "2000", "--lookups", "100", "--dir",
                               (dir / "bench").string()});
  // --compare-python: the same step in the venv's transformers + PEFT and Opacus, in the same run.
  const auto step = json_of("bench train-step", "", {"bench", "train-step", "--preset", "tiny", "--steps", "1", "--dp", "--compare-python"});
  CHECK(step["python"]["tokens_per_s"].get<double>() > 0);
  CHECK(step["opacus_ratio"].get<double>() > 0);
  json_of("bench forget", "", {"bench", "forget", "--records", "3000", "--forgets", "2", "--dir", (dir / "bench").string()});
  json_of("bench reduction", "", {"bench", "reduction", "--floats", "1000", "--rounds", "2"});
  json_of("cli-reference", "", {"cli-reference"});

  json_of("quickstart", ws, {"--set", "data.limit=1500", "quickstart", "--ranks", "1"});
  json_of("config show", ws, {"config", "show"});
  json_of("config docs", ws, {"config", "docs"});
  const auto status = json_of("status", ws, {"status"});
  std::string train_id;
  const auto lineage = json_of("lineage", ws, {"lineage", "--owner", "user-1"});
  for (const auto& r : lineage["records"]) {
    if (r["split"] == "train") train_id = r["id"];
  }
  REQUIRE(!train_id.empty());
  test::write_text(dir / "requests.jsonl", nlohmann::json({{"id", "q"}, {"image", std::vector<int>(28 * 28, 0)}}).dump() + "\n");
  json_of("predict", ws, {"predict", "--input", (dir / "requests.jsonl").string()});
  json_of("export", ws, {"export", "--out", (dir / "export").string()});
  json_of("train", ws, {"train"});
  json_of("eval", ws, {"eval"});
  json_of("simulate", ws, {"simulate", "--trials", "100"});
  json_of("forget", ws, {"forget", "--id", train_id, "--request-id", "R1"});
  json_of("retrain", ws, {"retrain"});
  json_of("report", ws, {"report"});  // runs a replay of its own (simulate --with-eval's)
  json_of("recover", ws, {"recover"});
  {  // serve runs until a signal: its listening line and its result are JSON lines too
    test::ServeProcess serve(ws, small);
    auto client = serve.client();
    CHECK(test::get_json(*client, "/healthz").status == 200);
    const test::ProcessResult r = serve.stop(SIGTERM);
    INFO("serve: " << r.err);
    REQUIRE(r.exit_code == 0);
    require_json_lines(r.out);
    require_json_lines(r.err);
    CHECK(nlohmann::json::parse(test::lines_of(r.out).front()).at("event") == "listening");
    covered.insert("serve");
  }
  const std::string key = json_of("audit pubkey", ws, {"audit", "pubkey"})["public_key"];
  json_of("audit verify", ws, {"audit", "verify"});
  json_of("audit keyed-id", ws, {"audit", "keyed-id", "user-1"});
  const std::string cert = (dir / "cert.json").string();
  json_of("audit certificate", ws, {"audit", "certificate", "--request", "R1", "--out", cert});
  json_of("audit check-certificate", ws, {"audit", "check-certificate", cert, "--pubkey", key});
  json_of("bench dp2", ws, {"bench", "dp2", "--forget-owners", "1"});

  json_of("init", fresh, {"init"});
  json_of("ingest", fresh, {"ingest", "--dataset", "fashion-mnist", "--limit", "1500"});
  json_of("pretrain", fresh, {"pretrain"});
  // A text workspace for find (it searches text payloads; the others hold images).
  const std::string text = (dir / "text").string();
  REQUIRE(run_lethe({"--workspace", text, "init"}).exit_code == 0);
  REQUIRE(run_lethe({"--workspace", text, "ingest", "--dataset", "fortunes", "--limit", "300"}).exit_code == 0);
  const auto found = json_of("find", text, {"find", "--text", "the"});
  CHECK(found["count"].get<int>() > 0);
  json_of("import-base", fresh, {"import-base", "--safetensors", (dir / "ws" / status["base"]["file"].get<std::string>()).string()});

  CHECK(covered == listed);
}
