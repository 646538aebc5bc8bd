// The SentencePiece tokenizer is trained on the public split, so it is a component with lineage
// like the base: forgetting a public record switches it off, and the purge replaces it (and the
// slices encoded with it) by what a fresh ingest of the retained records gives.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "src/index/lineage_index.h"
#include "src/audit/audit_verify.h"
#include "src/common/fs.h"
#include "src/common/hash.h"
#include "src/workspace/layout.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

constexpr const char* kMarker = "qxvortemplik";

// Public records of owners p0..p3 (data.public_owners) and train records of o0..o19. The public
// record "pub-secret" repeats a made-up word often enough to become a piece of the vocabulary.
std::string dataset(bool with_secret) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "while", "dogs", "ran", "past",
                         "green", "fields", "under", "grey", "skies", "and", "rain", "fell", "softly", "today"};
  std::string s;
  const auto line = [&](const std::string& id, const std::string& owner, int i, const std::string& text) {
    s += nlohmann::json({{"id", id}, {"owner", owner}, {"text", text}, {"label", i % 2 ? "a" : "b"}}).dump() + "\n";
  };
  for (int i = 0; i < 160; ++i) {
    std::string text;
    for (int k = 0; k < 8; ++k) text += std::string(k ? " " : "") + words[(i * 7 + k * 3 + i / 5) % 20];
    line((i < 80 ? "pub" : "r") + std::to_string(i), i < 80 ? "p" + std::to_string(i % 4) : "o" + std::to_string(i % 20), i, text);
  }
  if (with_secret) {
    std::string text;
    for (int k = 0; k < 40; ++k) text += std::string(k ? " " : "") + kMarker;
    line("pub-secret", "p1", 1, text);
  }
  return s;
}

void ingested(const fs::path& dir, const fs::path& ws, bool with_secret) {
  const fs::path data = dir / (with_secret ? "with.jsonl" : "without.jsonl");
  write_file_atomic(data, dataset(with_secret));
  lethe_json(ws, {"init"});
  lethe_json(ws, {"--set", "plan.shards=2", "--set", "plan.slices=2", "--set", "data.tokenizer=\"sentencepiece\"",
                  "--set", "data.vocab_size=300", "--set", "data.public_owners=[\"p0\",\"p1\",\"p2\",\"p3\"]",
                  "ingest", "--jsonl", data.string()});
}

std::vector<std::string> files_containing(const fs::path& ws, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(ws)) {
    if (e.is_regular_file() && read_file(e.path()).find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

// Files under data/ by name, with their hashes.
std::map<std::string, std::string> data_files(const fs::path& ws) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(ws / "data")) out[e.path().filename().string()] = hash_file(e.path());
  return out;
}

}  // namespace

TEST_CASE("tokenizer: forgetting a public record replaces the SentencePiece model trained on it, and the slices "
          "encoded with it", "[tokenizer][forget]") {
#if defined(__SANITIZE_ADDRESS__)
  LETHE_SKIP("sanitizer builds cannot load the SentencePiece plugin");
#endif
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  ingested(dir.path(), ws, true);
  REQUIRE(lethe_json(ws, {"lineage", "--id", "pub-secret"})["records"][0]["split"] == "public");
  // The fixture means something only if the word made it into the vocabulary.
  // (The public slice holds token IDs, not the text; the model holds the pieces as text.)
  const auto holders = files_containing(ws, kMarker);
  REQUIRE(holders.size() == 1);
  CHECK_THAT(holders[0], Catch::Contains("data/tokenizer-"));
  const auto lineage = lethe_json(ws, {"lineage", "--id", "pub-secret"})["records"][0]["components"];
  REQUIRE(lineage.size() == 1);
  CHECK(lineage[0]["kind"] == "tokenizer");
  // find decodes the token IDs to search the text.
  const auto found = lethe_json(ws, {"find", "--text", kMarker});
  REQUIRE(found["count"] == 1);
  CHECK(found["records"][0]["id"] == "pub-secret");

  // A kill after the slices were purged but before the new tokenizer exists: the next writer
  // finishes the deletion.
  test::RunOptions crash;
  crash.env = {"LETHE_CRASH_AT=purge.after_slice"};
  REQUIRE(lethe_in(ws, {"forget", "--id", "pub-secret"}, crash).exit_code == 128 + 9);
  {
    // Seen before anything finishes the deletion (the lock keeps the reader from doing it): the
    // slices are still encoded with the switched-off model, and verify says so.
    const WorkspaceLock held = WorkspaceLock::acquire(lock_file(ws), "test: hold the deletion unfinished");
    Workspace w = open_workspace(ws);
    const AuditReport report = verify_workspace(w, *get_meta(w.db, "audit.public_key"));
    bool named = false;
    for (const AuditViolation& v : report.violations) named |= v.check == "tokenizer";
    CHECK(named);
  }
  lethe_json(ws, {"recover"});

  CHECK(files_containing(ws, kMarker).empty());
  CHECK(lethe_json(ws, {"find", "--text", kMarker})["count"] == 0);
  CHECK(lethe_json(ws, {"find", "--text", "the on while"})["count"].get<int>() > 0);
  const auto after = lethe_json(ws, {"lineage", "--id", "pub-secret"})["records"][0];
  CHECK(after["status"] == "deleted");
  for (const auto& c : after["components"]) CHECK(c["status"] != "live");
  CHECK(lethe_json(ws, {"audit", "verify"})["ok"] == true);

  // Exactly what a fresh ingest of the retained records gives: the model and every slice file.
  const fs::path fresh = dir / "fresh";
  ingested(dir.path(), fresh, false);
  CHECK(data_files(ws) == data_files(fresh));
}

TEST_CASE("tokenizer: a workspace made before the tokenizer was a component gets it recorded on the first write, so "
          "a forgotten public record still replaces it", "[tokenizer][forget]") {
#if defined(__SANITIZE_ADDRESS__)
  LETHE_SKIP("sanitizer builds cannot load the SentencePiece plugin");
#endif
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  ingested(dir.path(), ws, true);
  // As an older Lethe left it: the model named in meta only, no ledger, no key.
  {
    Workspace w = open_workspace(ws);
    w.db.exec("DELETE FROM component_slices; DELETE FROM components; DELETE FROM ledger; "
              "DELETE FROM meta WHERE key IN ('audit.public_key', 'ledger.head', 'tokenizer.vocab_size')");
  }
  fs::remove(ws / "audit.key");
  const auto r = lethe_json(ws, {"forget", "--id", "pub-secret"});
  CHECK(r["retokenized_slices"].get<int>() > 0);
  CHECK(files_containing(ws, kMarker).empty());
  const auto components = lethe_json(ws, {"lineage", "--id", "pub-secret"})["records"][0]["components"];
  REQUIRE(components.size() == 1);
  CHECK(components[0]["kind"] == "tokenizer");
  CHECK(components[0]["status"] == "deactivated");
  CHECK(lethe_json(ws, {"audit", "verify"})["ok"] == true);
}
