// `lethe train` and `lethe eval` (S3T) end to end on a small Fashion-MNIST workspace.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>

#include "src/common/fs.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

// A small workspace (4 shards x 2 slices, B = 2) with a base; train settings kept short.
const std::vector<std::string> kSmall = {"--set", "plan.slices=2", "--set", "model.num_layers=2",
                                         "--set", "train.epochs_per_stage=1"};

std::vector<std::string> with_small(std::vector<std::string> args) {
  args.insert(args.begin(), kSmall.begin(), kSmall.end());
  return args;
}

void prepared(const fs::path& ws) {
  lethe_json(ws, {"init"});
  lethe_json(ws, with_small({"ingest", "--dataset", "fashion-mnist", "--limit", "4000"}));
  lethe_json(ws, with_small({"--set", "pretrain.epochs=1", "pretrain"}));
}

// The node checkpoints' hashes by (shard, prefix), from the lineage of every shard's slices.
std::map<std::string, std::string> node_hashes(const fs::path& ws) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(ws / "checkpoints")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("node-", 0) == 0) out[name.substr(0, name.rfind('-'))] = name;
  }
  return out;
}

}  // namespace

TEST_CASE("train: S3T nodes serve an ensemble and appear in lineage", "[train]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  prepared(ws);
  const auto t = lethe_json(ws, with_small({"train"}));
  CHECK(t["shards"] == 4);
  CHECK(t["nodes_trained"] == 4 * 4);  // 2 sequences x 2 stages, no shared prefix
  CHECK(t["stages_without_sharing"] == 16);
  const auto e = lethe_json(ws, with_small({"eval"}));
  CHECK(e["live_shards"] == 4);
  CHECK(e["records"].get<int>() > 500);
  // Ten classes (chance 0.1), 4,000 images, one epoch per stage: well above chance.
  CHECK(e["accuracy"].get<double>() > 0.3);
  // A train record lists the nodes that saw its slice.
  const auto owner = lethe_json(ws, {"lineage", "--owner", "user-1"});
  bool seen = false;
  for (const auto& r : owner["records"]) {
    if (r["split"] != "train") continue;
    for (const auto& c : r["components"]) seen |= c["kind"] == "node" && c["status"] == "live";
  }
  CHECK(seen);
  // Training again reuses every node.
  const auto again = lethe_json(ws, with_small({"train"}));
  CHECK(again["nodes_trained"] == 0);
  CHECK(again["nodes_reused"] == 16);
}

TEST_CASE("train: the same seed gives bit-identical node checkpoints", "[train][determinism]") {
  test::TempDir dir;
  prepared(dir / "a");
  prepared(dir / "b");
  lethe_json(dir / "a", with_small({"train"}));
  lethe_json(dir / "b", with_small({"train"}));
  const auto a = node_hashes(dir / "a"), b = node_hashes(dir / "b");
  CHECK(a.size() == 16);
  CHECK(a == b);
}

TEST_CASE("train: after a kill -9 in the middle, resuming gives the uninterrupted result",
          "[train][crash]") {
  test::TempDir dir;
  prepared(dir / "whole");
  lethe_json(dir / "whole", with_small({"train"}));
  const auto expected = node_hashes(dir / "whole");
  for (const char* point : {"train.before_commit.s1.p1", "train.after_commit.s2.p0.1"}) {
    INFO(point);
    const fs::path ws = dir / point;
    prepared(ws);
    test::RunOptions crash;
    crash.env = {std::string("LETHE_CRASH_AT=") + point};
    const auto killed = lethe_in(ws, with_small({"train"}), crash);
    REQUIRE(killed.exit_code == 128 + 9);
    const auto resumed = lethe_json(ws, with_small({"train"}));
    CHECK(resumed["nodes_reused"].get<int>() > 0);
    CHECK(node_hashes(ws) == expected);  // also: no orphan checkpoint left behind
  }
}
