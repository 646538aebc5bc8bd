// `lethe find --text`: an owner-level forget removes the owner's own records; the records of
// others that quote them stay, and find lists them for review. The search string is personal
// data and must not be left anywhere.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "src/common/fs.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

// Mail-like records: alice writes 6 (signed with her address), bob and carol reply, two of
// bob's replies quote alice's address; filler from others.
std::string mails() {
  std::string s;
  const auto mail = [&](const std::string& id, const std::string& owner, const std::string& text) {
    s += nlohmann::json({{"id", id}, {"owner", owner}, {"text", text}, {"label", id.size() % 2 ? "a" : "b"}}).dump() + "\n";
  };
  for (int i = 0; i < 6; ++i) mail("alice-" + std::to_string(i), "alice", "meeting notes " + std::to_string(i) + " -- alice@example.org");
  mail("bob-1", "bob", "> wrote alice@example.org: see you at noon");
  mail("bob-2", "bob", "forwarding to alice@example.org as asked");
  mail("carol-1", "carol", "no mention of anyone here");
  for (int i = 0; i < 60; ++i) mail("f" + std::to_string(i), "user" + std::to_string(i % 12), "filler text " + std::to_string(i));
  return s;
}

std::set<std::string> ids_found(const fs::path& ws, const std::string& text) {
  std::set<std::string> out;
  const auto found = lethe_json(ws, {"find", "--text", text});
  for (const auto& r : found["records"]) out.insert(r["id"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("find: lists live records quoting a forgotten owner, and leaves the search string nowhere", "[find][forget]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  write_file_atomic(dir / "mails.jsonl", mails());
  lethe_json(ws, {"init"});
  lethe_json(ws, {"--set", "plan.shards=2", "--set", "plan.slices=2", "--set", "data.public_fraction=0",
                  "ingest", "--jsonl", (dir / "mails.jsonl").string()});

  const auto all = ids_found(ws, "alice@example.org");
  CHECK(all.size() == 8);
  CHECK(all.count("bob-1") == 1);
  CHECK(all.count("carol-1") == 0);
  const auto one = lethe_json(ws, {"find", "--text", "see you at noon"});
  REQUIRE(one["count"] == 1);
  CHECK(one["records"][0]["id"] == "bob-1");
  CHECK(one["records"][0]["owner"] == "bob");
  CHECK(one["records"][0]["split"].is_string());
  CHECK(ids_found(ws, "Alice@Example.org").empty());  // case sensitive

  // Forgetting the owner removes her records, not the replies quoting her.
  lethe_json(ws, {"forget", "--owner", "alice"});
  CHECK(ids_found(ws, "alice@example.org") == std::set<std::string>{"bob-1", "bob-2"});

  // The search string is never printed, logged or stored: read from stdin here, as the docs advise.
  const std::string needle = "zz-never-stored-9f2c@example.org";
  test::RunOptions in;
  in.stdin_text = needle + "\n";
  const auto r = lethe_in(ws, {"find", "--text", "-"}, in);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("0 live records"));
  CHECK_THAT(r.out + r.err, !Catch::Contains(needle));
  const auto debug = lethe_in(ws, {"--log-level", "trace", "find", "--text", needle});
  CHECK(debug.exit_code == 0);
  CHECK_THAT(debug.out + debug.err, !Catch::Contains(needle));
  for (const auto& e : fs::recursive_directory_iterator(ws)) {
    if (e.is_regular_file()) CHECK_THAT(read_file(e.path()), !Catch::Contains("zz-never-stored-9f2c"));
  }
  CHECK(lethe_in(ws, {"find", "--text", ""}).exit_code == 2);
}
