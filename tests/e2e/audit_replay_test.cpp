// `lethe audit verify --replay`: a node trained on one record more than its lineage says is
// found, even when everything else about it is consistent: the test trains such a node (same
// seed, same slices, one planted record), puts it in place of the real one and rewrites the
// index and the signed ledger to match, as a key holder could. Hashes, signatures and lineage
// then all check out; only training the node again exposes it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "checkpoints/node_checkpoint.h"
#include "src/index/ledger.h"
#include "src/index/lineage_index.h"
#include "src/audit/replay.h"
#include "src/common/fs.h"
#include "src/trainers/workspace_data.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

// Re-chains and re-signs the ledger from the first entry `change` alters, as only the key
// holder can.
void rewrite_ledger(Workspace& ws, const std::function<bool(LedgerEntry&)>& change) {
  std::vector<LedgerEntry> entries = read_ledger(ws.db);
  std::string prev;
  bool rewriting = false;
  Stmt put = ws.db.prepare("UPDATE ledger SET payload = ?, prev_hash = ?, hash = ?, signature = ? WHERE seq = ?");
  for (LedgerEntry& e : entries) {
    rewriting = change(e) || rewriting;
    if (rewriting) {
      e.prev_hash = prev;
      e.hash = ledger_entry_hash(e);
      e.signature = audit_sign(ws.audit, e.hash);
      put.bind(1, e.payload).bind(2, e.prev_hash).bind(3, e.hash).bind(4, e.signature).bind(5, e.seq).run();
    }
    prev = e.hash;
  }
  set_meta(ws.db, "ledger.head", nlohmann::json({{"seq", entries.back().seq}, {"hash", entries.back().hash}}).dump());
}

}  // namespace

TEST_CASE("audit: replay finds a node trained with a planted extra record, which every other check accepts",
          "[audit]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  write_file_atomic(dir / "small.toml",
                    "[plan]\nshards = 2\nslices = 2\n[model]\nnum_layers = 2\n[train]\nepochs_per_stage = 1\n"
                    "[pretrain]\nepochs = 1\n");
  lethe_json(ws, {"init", "--config", (dir / "small.toml").string()});
  lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "1200"});
  lethe_json(ws, {"pretrain"});
  lethe_json(ws, {"train"});

  int64_t planted_in = 0;
  {
    WritableWorkspace w = open_workspace_for_write(ws, "test: plant a record");
    Workspace& x = w.ws;
    const ReplayCases cases = replay_cases(x, x.config);
    REQUIRE(cases.unreplayable.empty());
    // A leaf (no node has it as parent), so that no other node's recorded parent changes.
    const ReplayCase* leaf = nullptr;
    for (const ReplayCase& c : cases.cases) {
      const TrainingPlan& plan = cases.plans.at(c.mode).plan;
      bool parent = false;
      for (const NodeSpec& n : plan.nodes) parent = parent || n.parent == c.node;
      if (!parent && c.component.shard == 0) leaf = &c;
    }
    REQUIRE(leaf != nullptr);
    planted_in = leaf->component.component_id;
    ReplayInputs in = replay_inputs(x, cases, *leaf);
    // One record of the other shard, appended to the node's first slice as a live row.
    const SliceRow other = train_slice_rows(list_slices(x.db), 1, 2, 2).front();
    const RecordBatch extra = read_verified_slice(x, other);
    const size_t l = static_cast<size_t>(in.node.prefix.front());
    in.data.live[l].push_back(static_cast<uint32_t>(in.data.batches[l].size()));
    in.data.batches[l].append_from(extra, 0);
    const WrittenNode forged = write_node(x.root, replay_train(x, in, {}));
    REQUIRE(forged.hash != leaf->component.hash);

    Transaction txn(x.db);
    Stmt swap = x.db.prepare("UPDATE components SET file = ?, hash = ? WHERE component_id = ?");
    swap.bind(1, forged.file).bind(2, forged.hash).bind(3, planted_in).run();
    rewrite_ledger(x, [&](LedgerEntry& e) {
      if (e.event != "train.node") return false;
      nlohmann::json p = nlohmann::json::parse(e.payload);
      if (p.at("component_id") != planted_in) return false;
      p["hash"] = forged.hash;
      e.payload = p.dump();
      return true;
    });
    txn.commit();
    fs::remove(x.root / leaf->component.file);
  }

  // Hashes, chain, signatures, lineage: all consistent.
  const auto plain = lethe_json(ws, {"audit", "verify"});
  CHECK(plain["ok"] == true);
  // Training every live node again finds the one that is not what its lineage says, and only it.
  const auto r = lethe_in(ws, {"--json", "audit", "verify", "--replay", "all"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["violations"].size() == 1);
  CHECK(j["violations"][0]["check"] == "replay");
  CHECK_THAT(j["violations"][0]["where"].get<std::string>(), Catch::Contains("component " + std::to_string(planted_in)));
  CHECK(j["replay"]["nodes"].size() == j["replay"]["replayable"]);
  for (const auto& n : j["replay"]["nodes"]) CHECK(n["identical"] == (n["component_id"] != planted_in));
}
