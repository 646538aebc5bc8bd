// `lethe audit`: the signed ledger of a real run verifies clean; tampering is found and named.
// (Issue 7 in progress: the checkpoint, slice and lineage checks come next.)
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "shards/lineage_index.h"
#include "src/audit/ledger.h"
#include "src/common/fs.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

TEST_CASE("audit: the ledger of ingest, train, forget and retrain verifies, and names a changed entry",
          "[audit]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  write_file_atomic(dir / "small.toml",
                    "[plan]\nslices = 2\n[model]\nnum_layers = 2\n[train]\nepochs_per_stage = 1\n[pretrain]\nepochs = 1\n");
  lethe_json(ws, {"init", "--config", (dir / "small.toml").string()});
  const std::string key = lethe_json(ws, {"audit", "pubkey"})["public_key"];
  CHECK(key.size() == 64);
  lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "2000"});
  lethe_json(ws, {"pretrain"});
  lethe_json(ws, {"train"});
  std::string id;
  {
    Workspace w = open_workspace(ws);
    Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' LIMIT 1");
    REQUIRE(q.step());
    id = q.text(0);
  }
  lethe_json(ws, {"forget", "--id", id, "--request-id", "DSR-9"});
  lethe_json(ws, {"retrain"});
  const auto ok = lethe_json(ws, {"audit", "verify", "--pubkey", key});
  CHECK(ok["ok"] == true);
  {
    Workspace w = open_workspace(ws);
    const auto entries = read_ledger(w.db);
    std::map<std::string, int> events;
    for (const LedgerEntry& e : entries) {
      ++events[e.event];
      CHECK(e.payload.find(id) == std::string::npos);  // the plain ID never enters the ledger
    }
    CHECK(events["init"] == 1);
    CHECK(events["train.node"] == 16 + 3);  // the first training, then the three retrained nodes
    CHECK(events["forget.request"] == 1);
    CHECK(events["purge.slice"] == 1);
  }
  // One changed entry: exit 4, the entry named.
  {
    Workspace w = open_workspace(ws);
    w.db.exec("UPDATE ledger SET payload = replace(payload, 'DSR-9', 'DSR-8') WHERE event = 'forget.request'");
  }
  const auto bad = lethe_in(ws, {"audit", "verify"});
  CHECK(bad.exit_code == 4);
  CHECK_THAT(bad.out, Catch::Contains("ledger entry") && Catch::Contains("changed after signing"));
}
