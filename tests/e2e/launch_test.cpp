// launch/: the nightly unlearning script end to end, as cron would run it: queued requests
// applied one by one (a bad one set aside, not blocking the others), then retraining through
// mpirun when the policy asks for it; the GPU check script where there is no GPU.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "src/index/lineage_index.h"
#include "src/common/fs.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"

using namespace lethe;
using test::lethe_json;

TEST_CASE("launch: the nightly script forgets the queued requests and retrains through mpirun", "[launch][mpi][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws", inbox = dir / "inbox";
  // The workspace's own lethe.toml holds the small settings, as a deployment's would.
  test::copy_trained_workspace(ws);
  std::string ids;
  {
    Workspace w = open_workspace(ws);
    Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' LIMIT 2");
    while (q.step()) ids += q.text(0) + "\n";
  }
  fs::create_directories(inbox);
  write_file_atomic(inbox / "DSR-1.ids", ids);
  write_file_atomic(inbox / "DSR-2.owners", "no-such-owner\n");  // unknown: fails, set aside
  std::string launcher = "mpirun -np 2 --oversubscribe";
  if (::geteuid() == 0) launcher += " --allow-run-as-root";
  test::RunOptions env;
  env.env = {std::string("LETHE=") + LETHE_BIN, "LETHE_LAUNCHER=" + launcher};
  const std::string script = std::string(LETHE_SOURCE_DIR) + "/launch/lethe-nightly.sh";

  const auto run = test::run_process({"/bin/bash", script, ws.string(), inbox.string()}, env);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);  // one request failed; the others went through
  // An acknowledged request leaves nothing of its plain content: not its file, not its IDs in
  // any file of the inbox, the workspace or its reports. A failed one waits in failed/.
  CHECK_FALSE(fs::exists(inbox / "DSR-1.ids"));
  CHECK_FALSE(fs::exists(inbox / "done"));
  for (const std::string& id : test::lines_of(ids)) {
    for (const fs::path& tree : {inbox, ws}) {
      for (const auto& e : fs::recursive_directory_iterator(tree)) {
        INFO(e.path());
        if (e.is_regular_file()) CHECK(read_file(e.path()).find(id) == std::string::npos);
      }
    }
    CHECK(run.out.find(id) == std::string::npos);
  }
  CHECK(fs::exists(inbox / "failed" / "DSR-2.owners"));
  CHECK_THAT(read_file(inbox / "failed" / "DSR-2.owners.err"), Catch::Contains("no-such-owner"));
  CHECK(run.out.find("no-such-owner") == std::string::npos);  // the log names files, not contents
  CHECK(lethe_json(ws, {"lineage", "--id", test::lines_of(ids)[0]})["records"][0]["status"] == "deleted");
  // Retrained under mpirun: every shard serves its full sequences again.
  const auto status = lethe_json(ws, {"status"});
  CHECK(status["training"]["s3t"]["pending_nodes"] == 0);
  CHECK(status["training"]["s3t"]["live_shards"] == 4);
  bool found = false;
  for (const auto& e : fs::recursive_directory_iterator(ws / "reports")) {
    if (e.path().filename() != "retrain.json") continue;
    const auto r = nlohmann::json::parse(read_file(e.path()));
    CHECK(r["retrained"] == true);
    CHECK(r["ranks"].size() == 2);
    found = true;
  }
  CHECK(found);

  // The next night, while the failed request waits: it says so, and fails again.
  const auto reminded = test::run_process({"/bin/bash", script, ws.string(), inbox.string()}, env);
  INFO(reminded.out << reminded.err);
  CHECK(reminded.exit_code == 1);
  CHECK_THAT(reminded.out, Catch::Contains("failed/ holds 1 request"));
  // The operator resolves it and deletes it (launch/README.md); then an empty inbox: success.
  fs::remove_all(inbox / "failed");
  const auto quiet = test::run_process({"/bin/bash", script, ws.string(), inbox.string()}, env);
  INFO(quiet.out << quiet.err);
  CHECK(quiet.exit_code == 0);
  CHECK_THAT(quiet.err + quiet.out, Catch::Contains("Nothing to do") || Catch::Contains("nothing"));
}

// On a machine without a GPU (as CI's): the script still writes its one JSON file, and every part
// says why it did not run instead of passing. Where there is a GPU it would take minutes: it is
// launch/gpu-check.sh's own job there, not the suite's.
TEST_CASE("launch: gpu-check.sh writes one JSON file whose parts say why they were skipped without a GPU",
          "[launch][device]") {
  const auto v = nlohmann::json::parse(test::run_process({LETHE_BIN, "--json", "--version"}).out);
  if (!v["gpus"].empty()) LETHE_SKIP("this machine has a GPU: run launch/gpu-check.sh itself");
  test::TempDir dir;
  const fs::path out = dir / "gpu-check.json";
  const auto r = test::run_process({"/bin/sh", std::string(LETHE_SOURCE_DIR) + "/launch/gpu-check.sh", "--out", out.string(),
                                    "--kernel-check", (dir / "absent").string(), "--lethe", LETHE_BIN});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(read_file(out));
  CHECK(j["failed"] == false);
  CHECK(j["kernels"]["status"] == "skipped");
  CHECK_THAT(j["kernels"]["why"].get<std::string>(), Catch::Contains("make cuda-check"));
  CHECK(j["lethe"]["status"] == "skipped");
  CHECK(j["lethe"]["why"] == "lethe sees no GPU");
  CHECK(j["lethe"]["version"]["libtorch"] == v["libtorch"]);
  const auto bad = test::run_process({"/bin/sh", std::string(LETHE_SOURCE_DIR) + "/launch/gpu-check.sh", "--bogus"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("unknown argument '--bogus'"));
}
