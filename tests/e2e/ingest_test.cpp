// `lethe ingest`, `status` and `lineage` on real Debian data and on generated files, including
// every bad input and crash point of the ingest path.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "src/common/hash.h"
#include "src/data/slice_file.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::ProcessResult;
using test::run_lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

void init(const fs::path& ws) { REQUIRE(lethe_in(ws, {"init"}).exit_code == 0); }

// Files under data/ with their content hashes: what "the workspace as before" means for data.
std::map<std::string, std::string> data_files(const fs::path& ws) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(ws / "data")) {
    if (e.is_regular_file()) out[fs::relative(e.path(), ws).string()] = hash_file(e.path());
  }
  return out;
}

// The logical state: status and the data files.
std::pair<nlohmann::json, std::map<std::string, std::string>> snapshot(const fs::path& ws) {
  return {lethe_json(ws, {"status"}), data_files(ws)};
}

std::string jsonl_record(const std::string& id, const std::string& owner, const std::string& label,
                         const std::string& text) {
  return nlohmann::json{{"id", id}, {"owner", owner}, {"label", label}, {"text", text}}.dump() + "\n";
}

// n records, owners o0..o(n/3), labels a/b.
std::string jsonl_records(int n, const std::string& prefix = "r") {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += jsonl_record(prefix + std::to_string(i), "o" + std::to_string(i / 3), i % 2 ? "a" : "b",
                      "text number " + std::to_string(i));
  }
  return s;
}

}  // namespace

TEST_CASE("ingest: fashion-mnist end to end with status and lineage", "[ingest][fashion]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  const auto r = lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "3000"});
  CHECK(r["records"] == 3500);  // 3000 training images + 500 test images
  CHECK(r["test"] == 500);
  CHECK(r["public"].get<int>() > 0);
  CHECK(r["train"].get<int>() + r["public"].get<int>() == 3000);
  CHECK(r["labels"].size() == 10);
  CHECK(r["slices"].size() == 4 * 4 + 2);

  const auto status = lethe_json(ws, {"status"});
  CHECK(status["splits"]["train"]["records"] == r["train"]);
  CHECK(status["plan"]["shards"] == 4);
  CHECK(status["plan"]["strategy"] == "owner");

  const auto rec = lethe_json(ws, {"lineage", "--id", "test-00042"});
  REQUIRE(rec["records"].size() == 1);
  CHECK(rec["records"][0]["split"] == "test");
  CHECK(rec["records"][0]["status"] == "live");

  // Every train record of an owner lives in one slice (owner strategy).
  const auto owner = lethe_json(ws, {"lineage", "--owner", "user-0"});
  REQUIRE(owner["records"].size() > 1);
  std::set<std::pair<int, int>> cells;
  for (const auto& x : owner["records"]) {
    if (x["split"] == "train") cells.insert({x["shard"].get<int>(), x["slice"].get<int>()});
  }
  CHECK(cells.size() <= 1);
}

TEST_CASE("ingest: fortunes, and lineage for a real author", "[ingest][fortunes]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  const auto r = lethe_json(ws, {"ingest", "--dataset", "fortunes"});
  CHECK(r["records"].get<int>() > 10000);
  const auto author = lethe_json(ws, {"lineage", "--owner", "Lazarus Long"});
  REQUIRE(author["records"].size() > 0);
  CHECK(author["records"][0]["owner"] == "Lazarus Long");
  CHECK(author["records"][0]["status"] == "live");
  const auto human = lethe_in(ws, {"lineage", "--owner", "Lazarus Long"});
  CHECK(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("owner Lazarus Long:"));
  CHECK(lethe_in(ws, {"lineage", "--owner", "Nobody At All"}).exit_code == 5);
  CHECK(lethe_in(ws, {"lineage", "--id", "no-such-id"}).exit_code == 5);
}

TEST_CASE("ingest: sentencepiece is trained on the public split and stored in the workspace",
          "[ingest][tokenizer]") {
  test::TempDir dir;
  std::vector<std::map<std::string, std::string>> files;
  for (const char* name : {"a", "b"}) {
    const fs::path ws = dir / name;
    init(ws);
    const std::vector<std::string> args = {"ingest", "--dataset", "fortunes", "--set",
                                           "data.tokenizer=\"sentencepiece\""};
#if defined(__SANITIZE_ADDRESS__)
    // Sanitizer builds cannot load the SentencePiece plugin; they must say so and change nothing.
    const auto refused = lethe_in(ws, args);
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains("sanitizer"));
    LETHE_SKIP("no SentencePiece plugin in sanitizer builds");
#endif
    lethe_json(ws, args);
    const auto status = lethe_json(ws, {"status"});
    CHECK(status["payload"]["type"] == "u16");
    files.push_back(snapshot(ws).second);
  }
  // The same public texts give the same model, hence the same token files.
  CHECK(files[0] == files[1]);
  size_t models = 0;
  for (const auto& [name, hash] : files[0]) models += name.rfind("data/tokenizer-", 0) == 0;
  CHECK(models == 1);
}

TEST_CASE("ingest: the same seed gives byte-identical slice files and plan", "[ingest][determinism]") {
  test::TempDir dir;
  std::vector<std::pair<nlohmann::json, std::map<std::string, std::string>>> runs;
  for (const char* name : {"a", "b"}) {
    const fs::path ws = dir / name;
    init(ws);
    lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "2000"});
    auto s = snapshot(ws);
    s.first.erase("workspace");
    s.first.erase("workspace_id");
    s.first.erase("created_at");
    runs.push_back(s);
  }
  CHECK(runs[0].second == runs[1].second);  // same file names, same hashes
  CHECK(runs[0].first == runs[1].first);    // same plan, same slice table
  CHECK(runs[0].second.size() == 18);
}

TEST_CASE("ingest: bad inputs are refused with file and line and change nothing", "[ingest][bad-input]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  const auto before = snapshot(ws);
  struct Case {
    std::string name, file, content;
    std::vector<std::string> extra;
    int exit_code;
    std::string message;
  };
  const std::string good = jsonl_records(40);
  const std::vector<Case> cases = {
      {"malformed line", "bad.jsonl", jsonl_records(3) + "{\"id\": \"x\", \n" + jsonl_records(3, "s"), {}, 3, "bad.jsonl:4"},
      {"missing field", "nolabel.jsonl", jsonl_records(3) + "{\"id\":\"z\",\"text\":\"t\"}\n", {}, 3, "nolabel.jsonl:4"},
      {"duplicate ids", "dup.jsonl", good + jsonl_record("r7", "o1", "a", "again"), {}, 3, "duplicate record IDs"},
      {"empty input", "empty.jsonl", "", {}, 3, "no records"},
      {"more slices than records", "few.jsonl", jsonl_records(10), {}, 3, "only"},
      {"label outside the declared set", "labels.jsonl", good + jsonl_record("q", "o1", "c", "t"),
       {"--set", "data.labels=[\"a\", \"b\"]"}, 3, "labels.jsonl:41"},
      {"invalid UTF-8 in an id", "utf8.csv", "id,owner,label,text\nok,o,a,fine\n\xff\xfe,o,a,text\n", {}, 3, "utf8.csv:3"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const fs::path file = dir / c.file;
    test::write_text(file, c.content);
    std::vector<std::string> args = {"ingest", c.file.find(".csv") != std::string::npos ? "--csv" : "--jsonl",
                                     file.string()};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const auto r = lethe_in(ws, args);
    CHECK(r.exit_code == c.exit_code);
    CHECK_THAT(r.err, Catch::Contains(c.message));
    CHECK(snapshot(ws) == before);
  }
}

TEST_CASE("ingest: invalid UTF-8 in CSV text is kept as raw bytes", "[ingest][bad-input]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  std::string csv = "id,owner,label,text\n";
  for (int i = 0; i < 40; ++i) csv += "c" + std::to_string(i) + ",o" + std::to_string(i) + ",a,caf\xe9 " + std::to_string(i) + "\n";
  test::write_text(dir / "latin1.csv", csv);
  const auto r = lethe_json(ws, {"ingest", "--csv", (dir / "latin1.csv").string()});
  CHECK(r["records"] == 40);
  // Every record's payload in its slice file is exactly the bytes of the CSV field (0xE9 kept,
  // not replaced or re-encoded).
  std::map<std::string, std::string> payload_of;
  const auto status = lethe_json(ws, {"status"});
  for (const auto& sl : status["slices"]) {
    const RecordBatch b = read_slice_file(ws / sl["file"].get<std::string>());
    for (size_t row = 0; row < b.size(); ++row) payload_of[std::string(b.ids.at(row))] = std::string(b.payloads.at(row));
  }
  REQUIRE(payload_of.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(payload_of["c" + std::to_string(i)] == "caf\xe9 " + std::to_string(i));
}

TEST_CASE("ingest: a truncated gzip file is an input error naming it", "[ingest][bad-input]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  const fs::path data = dir / "fmnist";
  fs::create_directory(data);
  const fs::path src = "/usr/share/datasets/fashion-mnist";
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), data / e.path().filename());
  const fs::path victim = data / "train-labels-idx1-ubyte.gz";
  fs::resize_file(victim, fs::file_size(victim) / 2);
  const auto r = lethe_in(ws, {"ingest", "--dataset", "fashion-mnist", "--set", "data.path=\"" + data.string() + "\""});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("train-labels-idx1-ubyte.gz"));
}

TEST_CASE("ingest: a second ingest needs --append with the same plan", "[ingest][append]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  test::write_text(dir / "first.jsonl", jsonl_records(60));
  test::write_text(dir / "more.jsonl", jsonl_records(9, "m") + jsonl_record("n1", "o2", "a", "joins o2"));
  lethe_json(ws, {"ingest", "--jsonl", (dir / "first.jsonl").string()});
  const auto before = snapshot(ws);

  auto r = lethe_in(ws, {"ingest", "--jsonl", (dir / "more.jsonl").string()});
  CHECK(r.exit_code == 6);
  CHECK_THAT(r.err, Catch::Contains("--append"));
  r = lethe_in(ws, {"ingest", "--append", "--shards", "2", "--jsonl", (dir / "more.jsonl").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("plan.shards"));
  r = lethe_in(ws, {"ingest", "--append", "--jsonl", (dir / "first.jsonl").string()});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("already in the workspace"));
  CHECK(snapshot(ws) == before);

  const auto added = lethe_json(ws, {"ingest", "--append", "--jsonl", (dir / "more.jsonl").string()});
  CHECK(added["records"] == 10);
  // The new record of an existing owner joins that owner's slice.
  const auto o2 = lethe_json(ws, {"lineage", "--owner", "o2"});
  std::set<std::pair<int, int>> cells;
  for (const auto& x : o2["records"]) {
    if (x["split"] == "train") cells.insert({x["shard"].get<int>(), x["slice"].get<int>()});
  }
  CHECK(cells.size() <= 1);
  // Superseded slice files are gone: every data file is referenced by the index.
  const auto status = lethe_json(ws, {"status"});
  CHECK(status["slices"].size() == data_files(ws).size());
}

TEST_CASE("ingest: an append whose labels come in another order keeps label values consistent",
          "[ingest][append]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  init(ws);
  // The first source infers labels {b, c}; the second {a, c}: locally a = 0, c = 1.
  std::string first, more;
  for (int i = 0; i < 60; ++i) first += jsonl_record("f" + std::to_string(i), "o" + std::to_string(i), i % 2 ? "b" : "c", "first");
  for (int i = 0; i < 20; ++i) more += jsonl_record("m" + std::to_string(i), "p" + std::to_string(i), i % 2 ? "a" : "c", "more");
  test::write_text(dir / "first.jsonl", first);
  test::write_text(dir / "more.jsonl", more);
  lethe_json(ws, {"ingest", "--set", "plan.strategy=\"random\"", "--jsonl", (dir / "first.jsonl").string()});
  lethe_json(ws, {"ingest", "--append", "--set", "plan.strategy=\"random\"", "--jsonl", (dir / "more.jsonl").string()});
  // Every record's label in its slice file is the index's value for its name.
  for (const char* id : {"f1", "f2", "m1", "m2"}) {
    const auto r = lethe_json(ws, {"lineage", "--id", id})["records"][0];
    const RecordBatch b = read_slice_file(ws / r["file"].get<std::string>());
    CHECK(b.labels.at(r["row"].get<size_t>()) == r["label"].get<int>());
    CHECK(r["label_name"] == (std::string(id) == "f1" ? "b" : std::string(id) == "m1" ? "a" : "c"));
  }
}

TEST_CASE("ingest: kill -9 at each step leaves the workspace as before or as after", "[ingest][crash]") {
  test::TempDir dir;
  test::write_text(dir / "first.jsonl", jsonl_records(60));
  // Enough owners (30) for the default owner plan's 16 cells on a first ingest.
  test::write_text(dir / "more.jsonl", jsonl_records(90, "m"));
  for (const char* point : {"ingest.mid_files", "ingest.before_commit", "ingest.after_commit"}) {
    for (bool append : {false, true}) {
      INFO(point << (append ? " (append)" : " (first ingest)"));
      const fs::path ws = dir / (std::string(point) + (append ? "-append" : ""));
      init(ws);
      if (append) lethe_json(ws, {"ingest", "--jsonl", (dir / "first.jsonl").string()});
      const auto before = snapshot(ws);

      test::RunOptions crash;
      crash.env = {std::string("LETHE_CRASH_AT=") + point};
      std::vector<std::string> args = {"ingest", "--jsonl", (dir / "more.jsonl").string()};
      if (append) args.push_back("--append");
      const auto killed = lethe_in(ws, args, crash);
      REQUIRE(killed.exit_code == 128 + 9);

      // Readers see exactly the last committed state.
      const bool committed = std::string(point) == "ingest.after_commit";
      const auto status = lethe_json(ws, {"status"});
      if (!committed) CHECK(status == before.first);
      // Recovery removes every leftover; then the data files are exactly the indexed ones.
      lethe_json(ws, {"recover"});
      if (!committed) {
        CHECK(snapshot(ws) == before);
      } else {
        CHECK(status["splits"]["train"]["records"].get<int>() > 0);
        CHECK(lethe_json(ws, {"status"})["slices"].size() == data_files(ws).size());
      }
      // And the same ingest now runs to completion (or is refused as already done).
      const auto again = lethe_in(ws, args);
      CHECK(again.exit_code == (committed ? (append ? 3 : 6) : 0));
    }
  }
}
