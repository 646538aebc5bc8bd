// `lethe audit`: the signed ledger of a real run verifies clean; tampering is found and named.
#include <catch2/catch.hpp>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "src/index/lineage_index.h"
#include "src/index/ledger.h"
#include "src/common/fs.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

TEST_CASE("audit: the ledger of ingest, train, forget and retrain verifies, and names a changed entry",
          "[audit][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::copy_trained_workspace(ws);  // init, ingest, pretrain and train (s3t) recorded in its ledger
  const std::string key = lethe_json(ws, {"audit", "pubkey"})["public_key"];
  CHECK(key.size() == 64);
  // One record by ID, and every record of an owner whose name is no prefix of another's (the
  // longest), so that their bytes can be searched for in every file.
  std::string id, owner;
  {
    Workspace w = open_workspace(ws);
    Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' LIMIT 1");
    REQUIRE(q.step());
    id = q.text(0);
    Stmt o = w.db.prepare("SELECT owner FROM records WHERE id != ?1 AND owner != (SELECT owner FROM records WHERE id = ?1) "
                          "ORDER BY length(owner) DESC, owner LIMIT 1");
    o.bind(1, id);
    REQUIRE(o.step());
    owner = o.text(0);
  }
  const auto files_holding = [&](const std::string& needle) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(ws)) {
      if (e.is_regular_file() && read_file(e.path()).find(needle) != std::string::npos) out.push_back(e.path().string());
    }
    return out;
  };
  REQUIRE(!files_holding(id).empty());
  REQUIRE(!files_holding(owner).empty());
  // The slice file that holds the record, as it is before the forget.
  const auto located = lethe_json(ws, {"lineage", "--id", id})["records"][0];
  const std::string held_file = located["file"];
  const std::string held_bytes = read_file(ws / held_file);
  lethe_json(ws, {"forget", "--id", id, "--request-id", "DSR-9"});
  lethe_json(ws, {"forget", "--owner", owner, "--request-id", "DSR-10"});
  lethe_json(ws, {"retrain"});
  const auto ok = lethe_json(ws, {"audit", "verify", "--pubkey", key, "--replay", "2"});
  CHECK(ok["ok"] == true);
  CHECK(ok["replay"]["nodes"].size() == 2);
  for (const auto& n : ok["replay"]["nodes"]) CHECK(n["identical"] == true);
  {
    Workspace w = open_workspace(ws);
    const auto entries = read_ledger(w.db);
    std::map<std::string, int> events;
    for (const LedgerEntry& e : entries) ++events[e.event];
    CHECK(events["init"] == 1);
    CHECK(events["ingest"] == 1);
    CHECK(events["base.set"] == 1);
    CHECK(events["train.plan"] == 2);
    CHECK(events["train.run"] == 2);
    CHECK(events["forget.request"] == 2);
    CHECK(events["forget.purged"] == 2);
    CHECK(events["purge.slice"] >= 2);
    CHECK(events["train.node"] > 16);  // the first training, then the retrained nodes
  }
  CHECK(ok["checked"]["checkpoints"].get<int>() == 17);  // 16 nodes and the base
  // Privacy of the trail: neither the deleted ID nor the forgotten owner is in any file of the
  // workspace (ledger and index hold keyed hashes), yet both are still found by their names.
  CHECK(files_holding(id).empty());
  CHECK(files_holding(owner).empty());
  CHECK(files_holding("DSR-9").empty());  // request IDs are keyed too
  const auto by_id = lethe_json(ws, {"lineage", "--id", id});
  CHECK(by_id["records"][0]["status"] == "deleted");
  const auto by_owner = lethe_json(ws, {"lineage", "--owner", owner});
  REQUIRE(!by_owner["records"].empty());
  for (const auto& r : by_owner["records"]) CHECK(r["status"] == "deleted");
  const auto again = lethe_in(ws, {"forget", "--id", id});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("already deleted"));

  // The certificate of the first request: checked offline, with the public key alone (no
  // workspace), and it names the record's keyed hash, which the workspace can show is its ID's.
  const fs::path cert = dir / "DSR-9.json";
  lethe_json(ws, {"audit", "certificate", "--request", "DSR-9", "--out", cert.string()});
  const auto good = lethe_json(dir / "no-workspace-here", {"audit", "check-certificate", cert.string(), "--pubkey", key});
  CHECK(good["ok"] == true);
  const auto issued = nlohmann::json::parse(read_file(cert));
  const std::string keyed = lethe_json(ws, {"audit", "keyed-id", id})["keyed"][id];
  CHECK(issued["records"] == nlohmann::json::array({keyed}));
  CHECK(issued["request"]["deleted"] == 1);
  CHECK(!issued["components"].empty());
  for (const auto& x : issued["components"]) CHECK(x["checkpoint_removed"] == true);
  CHECK(!issued["purges"].empty());
  CHECK(read_file(cert).find(id) == std::string::npos);
  CHECK(lethe_in(ws, {"audit", "certificate", "--request", "DSR-404"}).exit_code == 5);
  // One flipped byte anywhere is found: in a value (the signature no longer matches), in the
  // signature itself, or in the syntax (named as unreadable). A wrong key is refused too.
  const std::string cert_bytes = read_file(cert);
  const auto check_flipped = [&](size_t at) {
    std::string changed = cert_bytes;
    changed[at] = static_cast<char>(changed[at] ^ 1);
    write_file_atomic(dir / "flipped.json", changed);
    const auto r = lethe_in(dir / "no-workspace-here", {"audit", "check-certificate", (dir / "flipped.json").string(), "--pubkey", key});
    INFO("byte " << at << ": " << r.out << r.err);
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.out, Catch::Contains("INVALID"));
    return r.out;
  };
  CHECK_THAT(check_flipped(cert_bytes.find(keyed) + 5), Catch::Contains("signature does not match its contents"));
  CHECK_THAT(check_flipped(cert_bytes.find("\"signature\": \"") + 20), Catch::Contains("signature does not match"));
  CHECK_THAT(check_flipped(cert_bytes.find("\"deactivated_at\"") - 1), Catch::Contains("not a valid JSON document"));
  for (size_t at = 7; at < cert_bytes.size(); at += cert_bytes.size() / 23) check_flipped(at);
  std::string other_key = key;
  other_key[0] = other_key[0] == 'a' ? 'b' : 'a';
  CHECK(lethe_in(ws, {"audit", "check-certificate", cert.string(), "--pubkey", other_key}).exit_code == 4);

  // Each kind of tampering, on its own copy: exit 4, the place named.
  const auto tampered = [&](const std::string& name, const std::function<void(const fs::path&)>& change) {
    const fs::path copy = dir / name;
    fs::copy(ws, copy, fs::copy_options::recursive);
    change(copy);
    const auto r = lethe_in(copy, {"audit", "verify", "--pubkey", key});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.exit_code == 4);
    return r.out;
  };
  const auto flip = [](const fs::path& file) {
    std::string bytes = read_file(file);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
    write_file_atomic(file, bytes);
  };
  std::string node_file, slice_file;
  {
    Workspace w = open_workspace(ws);
    node_file = live_components(w.db, "s3t").front().file;
    slice_file = list_slices(w.db).front().file;
  }
  CHECK_THAT(tampered("ledger", [](const fs::path& c) {
               Workspace w = open_workspace(c);
               w.db.exec("UPDATE ledger SET payload = replace(payload, '\"deleted\":1,', '\"deleted\":0,') WHERE event = 'forget.request'");
             }),
             Catch::Contains("ledger: entry") && Catch::Contains("changed after signing"));
  CHECK_THAT(tampered("signature", [](const fs::path& c) {
               Workspace w = open_workspace(c);
               w.db.exec("UPDATE ledger SET signature = replace(signature, substr(signature, 5, 1), "
                         "CASE substr(signature, 5, 1) WHEN '0' THEN '1' ELSE '0' END) WHERE seq = 2");
             }),
             Catch::Contains("entry 2") && Catch::Contains("signature"));
  CHECK_THAT(tampered("row", [](const fs::path& c) {
               Workspace w = open_workspace(c);
               w.db.exec("DELETE FROM ledger WHERE seq = 3");
             }),
             Catch::Contains("missing"));
  CHECK_THAT(tampered("checkpoint", [&](const fs::path& c) { flip(c / node_file); }),
             Catch::Contains("checkpoints: " + node_file));
  CHECK_THAT(tampered("slice", [&](const fs::path& c) { flip(c / slice_file); }), Catch::Contains("slices: " + slice_file));
  CHECK_THAT(tampered("leftover", [&](const fs::path& c) {
               Workspace w = open_workspace(c);
               Stmt q = w.db.prepare("SELECT file FROM components WHERE status = 'deactivated' AND kind = 's3t' LIMIT 1");
               REQUIRE(q.step());
               write_file_atomic(c / q.text(0), "a checkpoint that should have been removed");
             }),
             Catch::Contains("leftovers"));
  // The pre-purge slice file put back in place of the purged one: the file itself is read.
  CHECK_THAT(tampered("unpurged", [&](const fs::path& c) {
               Workspace w = open_workspace(c);
               for (const SliceRow& now : list_slices(w.db)) {
                 if (now.kind == located["split"] && now.shard == located["shard"] && now.slice == located["slice"]) {
                   write_file_atomic(c / now.file, held_bytes);
                 }
               }
             }),
             Catch::Contains("holds 1 record the ledger says was deleted"));
  // An index that disagrees with the signed ledger: a component's hash changed in the index only.
  CHECK_THAT(tampered("index", [](const fs::path& c) {
               Workspace w = open_workspace(c);
               w.db.exec("UPDATE components SET hash = 'ab' || substr(hash, 3) WHERE component_id = "
                         "(SELECT MAX(component_id) FROM components WHERE status = 'live')");
             }),
             Catch::Contains("ledger: ") && Catch::Contains("in the ledger"));
  // A record marked deleted behind the index's back: a live node saw it, and its slice holds it.
  CHECK_THAT(tampered("lineage", [](const fs::path& c) {
               Workspace w = open_workspace(c);
               w.db.exec("UPDATE records SET status = 1 WHERE rid = (SELECT MIN(r.rid) FROM records r JOIN slices s "
                         "USING (slice_id) WHERE s.kind = 'train' AND r.status = 0)");
             }),
             Catch::Contains("lineage: s3t component") && Catch::Contains("held 1 deleted record"));
}

TEST_CASE("audit: a workspace made before the ledger gets its keys on the first write, its state recorded and its "
          "deleted IDs sealed, and an interrupted upgrade is resumed",
          "[audit]") {
  test::TempDir dir;
  for (const bool interrupted : {false, true}) {
    INFO("interrupted: " << interrupted);
    const fs::path ws = dir / (interrupted ? "interrupted" : "old");
    lethe_json(ws, {"init"});
    lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "300"});
    // As an older Lethe left it: no ledger, no key, a record deleted under its plain ID.
    {
      Workspace w = open_workspace(ws);
      w.db.exec("DELETE FROM ledger; DELETE FROM meta WHERE key IN ('audit.public_key', 'ledger.head');"
                "UPDATE records SET status = 1, id = 'old-deleted-0042' WHERE rid = 7");
    }
    fs::remove(ws / "audit.key");
    if (interrupted) write_audit_keys(ws / "audit.key", generate_audit_keys());  // written, never committed
    lethe_json(ws, {"recover"});  // the first write
    const std::string key = lethe_json(ws, {"audit", "pubkey"})["public_key"];
    if (interrupted) CHECK(key == public_key_hex(read_audit_keys(ws / "audit.key")));
    {
      Workspace w = open_workspace(ws);
      const auto entries = read_ledger(w.db);
      REQUIRE(entries.size() == 1);
      CHECK(entries[0].event == "audit.keys_created");
      Stmt plain = w.db.prepare("SELECT COUNT(*) FROM records WHERE id = 'old-deleted-0042'");
      plain.step();
      CHECK(plain.int64(0) == 0);
    }
    CHECK(lethe_json(ws, {"lineage", "--id", "old-deleted-0042"})["records"][0]["status"] == "deleted");
    // The chain and the index agree (the slice still holding the record is the old state's
    // problem, and is reported as such).
    const auto r = lethe_in(ws, {"--json", "audit", "verify", "--pubkey", key});
    const auto j = nlohmann::json::parse(r.out);
    for (const auto& v : j["violations"]) CHECK(v["check"] != "ledger");
    CHECK_THAT(r.out, Catch::Contains("still holds 1 deleted record"));
  }
}
