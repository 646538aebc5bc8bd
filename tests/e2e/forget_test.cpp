// `lethe forget` end to end: immediate deactivation, purge of the bytes, bad input, and kill -9
// at each step (before the commit, after it, in the middle of the purge).
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "src/common/fs.h"
#include "src/data/slice_file.h"
#include "src/common/sqlite_db.h"
#include "src/workspace/layout.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

// 120 text records, 2 shards x 2 slices; records m0 and m1 carry unique marker strings.
std::string dataset() {
  std::string s;
  for (int i = 0; i < 120; ++i) {
    const std::string text = i < 2 ? "secret MARKER-" + std::to_string(i) + "-7f3a9c plans" : "fortune number " + std::to_string(i);
    const std::string id = i < 2 ? "m" + std::to_string(i) : "r" + std::to_string(i);
    s += nlohmann::json({{"id", id}, {"owner", "o" + std::to_string(i % 40)}, {"text", text}, {"label", i % 2 ? "a" : "b"}}).dump() + "\n";
  }
  return s;
}

void prepared(const fs::path& dir, const fs::path& ws) {
  write_file_atomic(dir / "data.jsonl", dataset());
  lethe_json(ws, {"init"});
  lethe_json(ws, {"--set", "plan.shards=2", "--set", "plan.slices=2", "--set", "data.public_fraction=0",
                  "ingest", "--jsonl", (dir / "data.jsonl").string()});
}

// Every workspace file (slices, index, WAL, checkpoints...) holding `needle`.
std::vector<std::string> files_containing(const fs::path& ws, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(ws)) {
    if (!e.is_regular_file()) continue;
    if (read_file(e.path()).find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

// A person named in long, unmistakable strings: the owner of records m0 and m1 (the others as
// in dataset()), whose bytes can be searched for in every file.
constexpr const char* kPerson = "john.doe@example.com";

void prepared_with_person(const fs::path& dir, const fs::path& ws) {
  std::string data;
  for (const std::string& line : test::lines_of(dataset())) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["id"] == "m0" || j["id"] == "m1") j["owner"] = kPerson;
    data += j.dump() + "\n";
  }
  write_file_atomic(dir / "data.jsonl", data);
  lethe_json(ws, {"init"});
  lethe_json(ws, {"--set", "plan.shards=2", "--set", "plan.slices=2", "--set", "data.public_fraction=0",
                  "ingest", "--jsonl", (dir / "data.jsonl").string()});
}

// Sets the process's umask (inherited by the lethe it starts) for one scope: a permissive 022,
// so that a file left to the umask would show.
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

bool deleted(const fs::path& ws, const std::string& id) {
  const auto r = lethe_json(ws, {"lineage", "--id", id});
  return r["records"][0]["status"] == "deleted";
}

}  // namespace

TEST_CASE("forget: records are deleted at once and their bytes purged from every file", "[forget]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  prepared(dir.path(), ws);
  REQUIRE(!files_containing(ws, "MARKER-0-7f3a9c").empty());
  const auto r = lethe_json(ws, {"forget", "--id", "m0", "--id", "m1", "--request-id", "R1", "--reason", "GDPR Art. 17"});
  CHECK(r["request_id"] == "R1");
  CHECK(r["deleted"] == 2);
  CHECK(r["purged_slices"].size() >= 1);
  CHECK(files_containing(ws, "MARKER-0-7f3a9c").empty());
  CHECK(files_containing(ws, "MARKER-1-7f3a9c").empty());
  CHECK(deleted(ws, "m0"));
  CHECK_FALSE(deleted(ws, "r5"));
  // The other records are still where the index says, and lineage and status agree: every live
  // record's file and hash are a slice that status lists, its row there holds it, and status's
  // live count per slice and deleted count per split are what lineage's records add up to.
  const auto status = lethe_json(ws, {"status"});
  std::map<std::string, int64_t> live_by_file;
  int64_t deleted_records = 0;
  for (int o = 0; o < 40; ++o) {
    const auto lineage = lethe_json(ws, {"lineage", "--owner", "o" + std::to_string(o)});
    for (const auto& rec : lineage["records"]) {
      INFO(rec.dump());
      if (rec["status"] == "deleted") {
        ++deleted_records;
        continue;
      }
      const std::string file = rec["file"];
      bool listed = false;
      for (const auto& sl : status["slices"]) listed |= sl["file"] == file && sl["hash"] == rec["slice_hash"];
      CHECK(listed);
      CHECK(read_slice_file(ws / file).ids.at(rec["row"].get<size_t>()) == rec["id"].get<std::string>());
      ++live_by_file[file];
    }
  }
  CHECK(deleted_records == 2);
  CHECK(status["splits"]["train"]["deleted"] == deleted_records);
  int64_t slices_with_records = 0;
  for (const auto& sl : status["slices"]) {
    INFO(sl.dump());
    CHECK(sl["live"] == live_by_file[sl["file"].get<std::string>()]);
    slices_with_records += sl["live"].get<int64_t>() > 0;
  }
  CHECK(slices_with_records == static_cast<int64_t>(live_by_file.size()));
  // Forgetting them again is a no-op, reported as such; a reused request ID is refused.
  const auto again = lethe_json(ws, {"forget", "--id", "m0"});
  CHECK(again["deleted"] == 0);
  CHECK(again["already_deleted"] == 1);
  CHECK(lethe_json(ws, {"forget", "--id", "r3", "--request-id", "R1"}, 6) == nullptr);
  CHECK_FALSE(deleted(ws, "r3"));
}

TEST_CASE("forget: bad requests change nothing", "[forget]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  prepared(dir.path(), ws);
  // Unknown IDs fail the whole request and are listed; --skip-missing forgets the rest.
  const auto unknown = lethe_in(ws, {"forget", "--id", "r4", "--id", "nope"});
  CHECK(unknown.exit_code == 5);
  CHECK_THAT(unknown.err, Catch::Contains("'nope'"));
  CHECK_FALSE(deleted(ws, "r4"));
  CHECK(lethe_json(ws, {"forget", "--owner", "nobody"}, 5) == nullptr);
  const auto skipped = lethe_json(ws, {"forget", "--id", "r4", "--id", "nope", "--skip-missing"});
  CHECK(skipped["deleted"] == 1);
  CHECK(skipped["missing_ids"] == nlohmann::json::array({"nope"}));
  // Empty and malformed ID files, and no target at all.
  write_file_atomic(dir / "empty.txt", "\n\n");
  const auto empty = lethe_in(ws, {"forget", "--ids", (dir / "empty.txt").string()});
  CHECK(empty.exit_code == 3);
  CHECK_THAT(empty.err, Catch::Contains("empty.txt"));
  write_file_atomic(dir / "bad.txt", "r5\n\xff\xfe\n");
  const auto bad = lethe_in(ws, {"forget", "--ids", (dir / "bad.txt").string()});
  CHECK(bad.exit_code == 3);
  CHECK_THAT(bad.err, Catch::Contains("bad.txt:2"));
  CHECK_FALSE(deleted(ws, "r5"));
  CHECK(lethe_in(ws, {"forget"}).exit_code == 2);
  // An owner file forgets every record of each owner.
  write_file_atomic(dir / "owners.txt", "o7\no8\n");
  const auto owners = lethe_json(ws, {"forget", "--owners", (dir / "owners.txt").string()});
  CHECK(owners["deleted"] == 6);  // three records each
}

TEST_CASE("forget: after a kill -9 at any step, no acknowledged deletion is lost and the bytes go",
          "[forget][crash]") {
  test::TempDir dir;
  // A trained model (2 shards x 2 slices) whose training data holds the two marked records (with
  // data.seed 1 both are train records).
  const fs::path trained = dir / "trained";
  write_file_atomic(dir / "data.jsonl", dataset());
  write_file_atomic(dir / "small.toml",
                    "[plan]\nshards = 2\nslices = 2\n[data]\npublic_fraction = 0.2\nseed = 1\n[model]\nnum_layers = 2\n"
                    "[train]\nepochs_per_stage = 1\n[pretrain]\nepochs = 1\n");
  lethe_json(trained, {"init", "--config", (dir / "small.toml").string()});
  lethe_json(trained, {"ingest", "--jsonl", (dir / "data.jsonl").string()});
  for (const char* id : {"m0", "m1"}) {
    REQUIRE(lethe_json(trained, {"lineage", "--id", id})["records"][0]["split"] == "train");
  }
  lethe_json(trained, {"pretrain"});
  lethe_json(trained, {"train"});
  // purge.after_slice stops the purge after its first rewritten slice.
  for (const char* point : {"forget.before_commit", "forget.after_commit", "purge.after_slice"}) {
    INFO(point);
    const fs::path ws = dir / point;
    fs::copy(trained, ws, fs::copy_options::recursive);
    test::RunOptions crash;
    crash.env = {std::string("LETHE_CRASH_AT=") + point};
    const auto killed = lethe_in(ws, {"forget", "--id", "m0", "--id", "m1"}, crash);
    REQUIRE(killed.exit_code == 128 + 9);
    if (std::string(point) == "forget.before_commit") {
      // Never acknowledged: nothing changed, and the request can simply be made again.
      CHECK_FALSE(deleted(ws, "m0"));
      lethe_json(ws, {"forget", "--id", "m0", "--id", "m1"});
    } else {
      // Acknowledged (committed): the next command, read-only here, finishes the purge.
      lethe_json(ws, {"eval"});
    }
    CHECK(deleted(ws, "m0"));
    CHECK(deleted(ws, "m1"));
    // No component that saw them is live, so none serves; what is left still does.
    for (const char* id : {"m0", "m1"}) {
      const auto l = lethe_json(ws, {"lineage", "--id", id});
      CHECK(!l["records"][0]["components"].empty());
      for (const auto& c : l["records"][0]["components"]) CHECK(c["status"] != "live");
    }
    CHECK(lethe_json(ws, {"eval"})["live_shards"].get<int>() >= 1);
    CHECK(files_containing(ws, "MARKER-0-7f3a9c").empty());
    CHECK(files_containing(ws, "MARKER-1-7f3a9c").empty());
    // The ledger recorded exactly what committed, and the purge it finished.
    CHECK(lethe_json(ws, {"audit", "verify"})["ok"] == true);
  }
}

TEST_CASE("forget: deactivated nodes stop serving at once, a shard keeps its longest clean prefix",
          "[forget][train][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::copy_trained_workspace(ws);  // Fashion-MNIST, s3t trained (4 shards x 2 slices)
  lethe_json(ws, {"train", "--mode", "full"});
  // One train record: its shard's nodes that saw it (3 of 4) and the full model switch off.
  const auto owner = lethe_json(ws, {"lineage", "--owner", "user-1"});
  std::string id;
  int shard = -1;
  for (const auto& r : owner["records"]) {
    if (r["split"] == "train") {
      id = r["id"];
      shard = r["shard"];
    }
  }
  REQUIRE(!id.empty());
  const auto f = lethe_json(ws, {"forget", "--id", id});
  CHECK(f["deactivated"].size() == 4);
  const auto e = lethe_json(ws, {"eval"});
  CHECK(e["live_shards"] == 4);  // the shard still serves its first stage on the clean slice
  for (const auto& s : e["shards"]) {
    if (s["shard"] == shard) CHECK(s["stages"] == 1);
  }
  CHECK(lethe_json(ws, {"eval", "--mode", "full"}, 5) == nullptr);  // fail closed
  // Forgetting a public record takes the base away: nothing serves.
  std::string public_id;
  {
    Workspace w = open_workspace(ws);
    Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'public' LIMIT 1");
    if (q.step()) public_id = q.text(0);
  }
  REQUIRE(!public_id.empty());
  lethe_json(ws, {"forget", "--id", public_id});
  CHECK(lethe_json(ws, {"eval"}, 5) == nullptr);
}

TEST_CASE("forget: the request's own words keep no trace of the person, and workspace files are private",
          "[forget]") {
  const Umask permissive(022);
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  prepared_with_person(dir.path(), ws);
  REQUIRE(!files_containing(ws, kPerson).empty());
  // A request ID and a reason that name the person, as people write them.
  const std::string request = std::string("DSR for ") + kPerson, reason = "John Doe asked (GDPR Art. 17)";
  const auto r = lethe_json(ws, {"forget", "--owner", kPerson, "--request-id", request, "--reason", reason});
  CHECK(r["request_id"] == request);  // answered as given
  CHECK(r["deleted"] == 2);
  CHECK(r["purge_finished"] == true);
  lethe_json(ws, {"report"});  // the HTML report lists the requests
  // Kept keyed everywhere: index, ledger, lock file, report.
  CHECK(files_containing(ws, kPerson).empty());
  CHECK(files_containing(ws, "John Doe").empty());
  CHECK(files_containing(ws, "GDPR").empty());
  // Still found by its plain ID: a reuse is refused, and the certificate is issued.
  CHECK(lethe_json(ws, {"forget", "--id", "r3", "--request-id", request}, 6) == nullptr);
  const fs::path cert = dir / "cert.json";
  lethe_json(ws, {"audit", "certificate", "--request", request, "--out", cert.string()});
  const std::string key = lethe_json(ws, {"audit", "pubkey"})["public_key"];
  CHECK(lethe_json(ws, {"audit", "check-certificate", cert.string(), "--pubkey", key})["ok"] == true);
  const auto issued = nlohmann::json::parse(read_file(cert));
  const std::string keyed = lethe_json(ws, {"audit", "keyed-id", request})["keyed"][request];
  CHECK(issued["request"]["request_id"] == "k:" + keyed);
  CHECK(read_file(cert).find(kPerson) == std::string::npos);

  // Private whatever the umask: the workspace 0700, everything in it owner-only (slices, the
  // index and its -wal/-shm, checkpoints, reports, the lock).
  CHECK(permission_bits(ws) == 0700);
  for (const auto& e : fs::recursive_directory_iterator(ws)) {
    INFO(e.path());
    CHECK((permission_bits(e.path()) & kSharedBits) == 0);
  }
  // A key file others may read is refused, naming the file and the fix.
  fs::permissions(audit_key_file(ws), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                          fs::perms::others_read);
  const auto exposed = lethe_in(ws, {"status"});
  CHECK(exposed.exit_code == 4);
  CHECK_THAT(exposed.err, Catch::Contains("audit.key") && Catch::Contains("chmod 600"));
  fs::permissions(audit_key_file(ws), fs::perms::owner_read | fs::perms::owner_write);
  CHECK(lethe_in(ws, {"status"}).exit_code == 0);
}

TEST_CASE("forget: a reader holding the index's write-ahead log leaves the purge unfinished, and the next command "
          "finishes it", "[forget]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  prepared_with_person(dir.path(), ws);
  std::optional<Db> reader = Db::open(index_file(ws), /*create=*/false);
  reader->exec("BEGIN");
  {
    Stmt q = reader->prepare("SELECT COUNT(*) FROM records");
    REQUIRE(q.step());
  }  // the read transaction, and its snapshot, stay until COMMIT
  const auto r = lethe_in(ws, {"--json", "forget", "--owner", kPerson, "--request-id", "DSR-1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);  // acknowledged: deleted and switched off, durably
  const auto j = nlohmann::json::parse(test::lines_of(r.out).back());
  CHECK(j["deleted"] == 2);
  CHECK(j["purge_finished"] == false);  // but not erased from the index's log: said so
  CHECK_THAT(r.err, Catch::Contains("not finished"));
  // No certificate while the purge is unfinished.
  CHECK(lethe_in(ws, {"audit", "certificate", "--request", "DSR-1"}).exit_code == 6);
  reader->exec("COMMIT");
  reader.reset();
  // The next command, read-only here, finishes it.
  lethe_json(ws, {"status"});
  CHECK(files_containing(ws, kPerson).empty());
  CHECK(lethe_json(ws, {"audit", "certificate", "--request", "DSR-1"})["request"]["deleted"] == 2);
}
