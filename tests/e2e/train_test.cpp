// `lethe train`, `lethe eval` and `lethe predict` end to end on a small Fashion-MNIST
// workspace: S3T and the baselines, alone and through mpirun.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "src/common/fs.h"
#include "tests/support/learning.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;
using test::mpirun_in;
using test::mpirun_json;

namespace {

// A small workspace (4 shards x 2 slices, B = 2) with a base; train settings kept short.
const std::vector<std::string> kSmall = {"--set", "plan.slices=2", "--set", "model.num_layers=2",
                                         "--set", "train.epochs_per_stage=1"};

std::vector<std::string> with_small(std::vector<std::string> args) {
  args.insert(args.begin(), kSmall.begin(), kSmall.end());
  return args;
}

// Returns the frozen base's accuracy on the test split (pretrain's report): what a mode that
// trained nothing would serve, since every node starts from the base's head with its new
// adapters at zero.
double prepared(const fs::path& ws) {
  lethe_json(ws, {"init"});
  lethe_json(ws, with_small({"ingest", "--dataset", "fashion-mnist", "--limit", "4000"}));
  return lethe_json(ws, with_small({"--set", "pretrain.epochs=1", "pretrain"}))["test"]["accuracy"];
}

// How far each mode must beat the base on this fixture. Measured (seeded, so reproducible):
// base 0.374; s3t 0.488, sisa 0.526, full 0.592; with train.lr=0 every mode serves exactly
// 0.374. The margin is under half the smallest gain (s3t's 0.114).
constexpr double kLearnedMargin = 0.05;

// Every node checkpoint of `kind` in the workspace: file name by (shard, prefix) name.
std::map<std::string, std::string> node_files(const fs::path& ws, const std::string& kind = "s3t") {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(ws / "checkpoints")) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kind + "-", 0) == 0) out[name.substr(0, name.rfind('-'))] = name;
  }
  return out;
}

// Three test images as prediction requests.
std::string image_requests() {
  std::string text;
  for (int i = 0; i < 3; ++i) {
    nlohmann::json image = nlohmann::json::array();
    for (int p = 0; p < 28 * 28; ++p) image.push_back((p * (i + 3)) % 256);
    text += nlohmann::json({{"id", "q" + std::to_string(i)}, {"image", image}}).dump() + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("train: S3T nodes serve an ensemble and appear in lineage", "[train]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  const double base_accuracy = prepared(ws);
  const auto t = lethe_json(ws, with_small({"train"}));
  CHECK(t["mode"] == "s3t");
  test::check_training_loss_falls(t, 16);
  CHECK(t["shards"] == 4);
  CHECK(t["nodes_trained"] == 4 * 4);  // 2 sequences x 2 stages, no shared prefix
  CHECK(t["stages_without_sharing"] == 16);
  CHECK(t["ranks"].size() == 1);
  CHECK(node_files(ws).size() == 16);
  const auto e = lethe_json(ws, with_small({"eval"}));
  CHECK(e["live_shards"] == 4);
  CHECK(e["records"].get<int>() > 500);
  // Training learned: the ensemble beats the base it started from.
  CHECK(e["accuracy"].get<double>() > base_accuracy + kLearnedMargin);
  CHECK(e["shards"].size() == 4);
  CHECK(e["shards"][0]["stages"] == 2);
  const auto vote = lethe_json(ws, with_small({"eval", "--vote"}));
  CHECK(vote["combine"] == "vote");
  CHECK(vote["accuracy"].get<double>() > base_accuracy + kLearnedMargin);
  // A train record lists the nodes that saw its slice.
  const auto owner = lethe_json(ws, {"lineage", "--owner", "user-1"});
  bool seen = false;
  std::string train_id;
  for (const auto& r : owner["records"]) {
    if (r["split"] != "train") continue;
    train_id = r["id"];
    for (const auto& c : r["components"]) seen |= c["kind"] == "s3t" && c["status"] == "live";
  }
  CHECK(seen);
  // lineage --id lists the trained nodes that saw the record: its shard's nodes are "0",
  // "0.1", "1" and "1.0", and all but the first stage on the other slice saw it.
  REQUIRE(!train_id.empty());
  const auto by_id = lethe_json(ws, {"lineage", "--id", train_id});
  int s3t_components = 0;
  for (const auto& c : by_id["records"][0]["components"]) s3t_components += c["kind"] == "s3t";
  CHECK(s3t_components == 3);
  // Training again reuses every node.
  const auto again = lethe_json(ws, with_small({"train"}));
  CHECK(again["nodes_trained"] == 0);
  CHECK(again["nodes_reused"] == 16);
}

TEST_CASE("train: checkpoints are bit-identical for 1, 2 and 3 ranks at the same threads per rank",
          "[train][determinism][mpi]") {
  test::TempDir dir;
  prepared(dir / "r1");
  fs::copy(dir / "r1", dir / "r2", fs::copy_options::recursive);
  fs::copy(dir / "r1", dir / "r3", fs::copy_options::recursive);
  // One thread per rank, as mpirun's ranks get on these 2 cores: MKL's GEMM gives other last bits
  // for some small products on 2 threads than on 1 (docs/gpu.md, "Determinism").
  const auto single = lethe_json(dir / "r1", with_small({"--threads", "1", "train"}));
  const auto two = mpirun_json(2, dir / "r2", with_small({"train"}));
  CHECK(two["ranks"].size() == 2);
  CHECK(two["ranks"][1]["nodes_trained"].get<int>() > 0);  // rank 1 did train
  // Rank 0 reports every rank's nodes, with the losses one process gets.
  CHECK(single["node_losses"].size() == 16);
  CHECK(two["node_losses"] == single["node_losses"]);
  // The real run spreads the nodes over its ranks as --dry-run said it would.
  const auto dry = lethe_json(dir / "r3", with_small({"train", "--dry-run", "--ranks", "3"}));
  std::vector<int> predicted(3, 0);
  for (const auto& u : dry["units"]) predicted[u["rank"].get<size_t>()] += u["nodes_to_train"].get<int>();
  const auto three = mpirun_json(3, dir / "r3", with_small({"train"}));
  REQUIRE(three["ranks"].size() == 3);
  for (size_t r = 0; r < 3; ++r) CHECK(three["ranks"][r]["nodes_trained"] == predicted[r]);
  const auto one = node_files(dir / "r1");
  CHECK(one.size() == 16);
  CHECK(node_files(dir / "r2") == one);
  CHECK(node_files(dir / "r3") == one);
  // Evaluation spread over ranks gives exactly the single-process result.
  CHECK(mpirun_json(2, dir / "r2", with_small({"eval"})) == lethe_json(dir / "r1", with_small({"eval"})));
}

TEST_CASE("train: after a kill -9 in the middle of an mpirun job, resuming gives the uninterrupted result",
          "[train][crash][mpi]") {
  test::TempDir dir;
  prepared(dir / "whole");
  const fs::path pristine = dir / "pristine";
  fs::copy(dir / "whole", pristine, fs::copy_options::recursive);
  lethe_json(dir / "whole", with_small({"--threads", "1", "train"}));  // as each of the 2 ranks below
  const auto expected = node_files(dir / "whole");
  REQUIRE(expected.size() == 16);
  // Before a commit (on whichever rank trains that node) and after one (rank 0 commits).
  for (const char* point : {"train.before_commit.s1.p1", "train.after_commit.s2.p0.1"}) {
    INFO(point);
    const fs::path ws = dir / point;
    fs::copy(pristine, ws, fs::copy_options::recursive);
    test::RunOptions crash;
    crash.env = {std::string("LETHE_CRASH_AT=") + point};
    const auto killed = mpirun_in(2, ws, with_small({"train"}), crash);
    REQUIRE(killed.exit_code != 0);
    const auto resumed = mpirun_json(2, ws, with_small({"train"}));
    CHECK(resumed["nodes_reused"].get<int>() > 0);
    CHECK(node_files(ws) == expected);  // also: no orphan checkpoint left behind
    // The ledger and the index agree after the crash: the node's entry committed with it or not at all.
    CHECK(lethe_json(ws, {"audit", "verify"})["ok"] == true);
  }
}

TEST_CASE("train: the SISA and full baselines train, serve and record lineage", "[train][baselines]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  const double base_accuracy = prepared(ws);
  const auto sisa = lethe_json(ws, with_small({"train", "--mode", "sisa"}));
  CHECK(sisa["nodes_trained"] == 4 * 2);  // one chain of L checkpoints per shard
  CHECK(node_files(ws, "sisa").size() == 8);
  test::check_training_loss_falls(sisa, 8);
  const auto full = lethe_json(ws, with_small({"--set", "train.mode=full", "train"}));
  CHECK(full["nodes_trained"] == 1);
  CHECK(node_files(ws, "full").size() == 1);
  test::check_training_loss_falls(full, 1);
  // Both learned: they beat the base they started from.
  const auto es = lethe_json(ws, with_small({"eval", "--mode", "sisa"}));
  CHECK(es["live_shards"] == 4);
  CHECK(es["accuracy"].get<double>() > base_accuracy + kLearnedMargin);
  const auto ef = lethe_json(ws, with_small({"eval", "--mode", "full"}));
  CHECK(ef["live_shards"] == 1);
  CHECK(ef["accuracy"].get<double>() > base_accuracy + kLearnedMargin);
  // Every SISA and full node trains again to its stored bytes (under the same --set overrides).
  const auto replayed = lethe_json(ws, with_small({"audit", "verify", "--replay", "all"}));
  CHECK(replayed["ok"] == true);
  CHECK(replayed["replay"]["nodes"].size() == 9);
  // S3T was never trained here: nothing to serve.
  CHECK(lethe_json(ws, with_small({"eval", "--mode", "s3t"}), 5) == nullptr);
  // The full model saw every train slice.
  const auto owner = lethe_json(ws, {"lineage", "--owner", "user-1"});
  bool full_seen = false;
  for (const auto& r : owner["records"]) {
    for (const auto& c : r["components"]) full_seen |= c["kind"] == "full";
  }
  CHECK(full_seen);
  // --budget sets B; --shards must match the plan made at ingest.
  const auto b1 = lethe_json(ws, with_small({"train", "--budget", "1"}));
  CHECK(b1["nodes"] == 4 * 2);
  CHECK(lethe_json(ws, with_small({"train", "--shards", "8"}), 2) == nullptr);
  CHECK(lethe_json(ws, with_small({"train", "--mode", "sharded"}), 2) == nullptr);
}

TEST_CASE("predict: JSONL requests in, one JSONL answer per request out", "[predict][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::copy_trained_workspace(ws);  // Fashion-MNIST, s3t trained (4 shards x 2 slices)
  test::RunOptions in;
  in.stdin_text = image_requests();
  // One thread, as each of the 2 ranks below: the logits' last bits may depend on the thread
  // count (docs/gpu.md, "Determinism").
  const auto r = lethe_in(ws, {"--threads", "1", "predict", "--per-shard"}, in);
  REQUIRE(r.exit_code == 0);
  const auto lines = test::lines_of(r.out);
  REQUIRE(lines.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const auto a = nlohmann::json::parse(lines[i]);
    CHECK(a["id"] == "q" + std::to_string(i));
    CHECK(a["label_index"].get<int>() >= 0);
    CHECK(a["label_index"].get<int>() < 10);
    CHECK(a["probability"].get<double>() > 0.0);
    CHECK(a["shards"].size() == 4);
    CHECK(a["shards"][0]["logits"].size() == 10);
  }
  // The same answers through mpirun, from a file.
  write_file_atomic(dir / "requests.jsonl", image_requests());
  const auto m = mpirun_in(2, ws, {"predict", "--per-shard", "--input", (dir / "requests.jsonl").string()});
  REQUIRE(m.exit_code == 0);
  CHECK(m.out == r.out);

  SECTION("bad requests are refused naming the line") {
    for (const std::string& bad : {std::string("{\"id\": 1, \"image\": [1, 2]}\n"),
                                   image_requests() + "{not json\n", std::string("{\"text\": \"hi\"}\n")}) {
      test::RunOptions b;
      b.stdin_text = bad;
      const auto e = lethe_in(ws, {"predict"}, b);
      CHECK(e.exit_code == 3);
      CHECK_THAT(e.err, Catch::Contains("<stdin>:"));
      CHECK(e.out.empty());
    }
  }
}

TEST_CASE("train --dry-run: the schedule for R ranks from the plan, with its makespan and lower bound, nothing written",
          "[train][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::copy_trained_workspace(ws);  // 4 shards x 2 slices, B = 2, every node trained
  const std::string index_before = read_file(ws / "lineage.db");
  const auto files_before = node_files(ws);

  const auto kept = lethe_json(ws, {"train", "--dry-run", "--ranks", "3"});
  CHECK(kept["dry_run"] == true);
  CHECK(kept["nodes_to_train"] == 0);
  CHECK(kept["nodes_kept"] == 16);
  CHECK(kept["total_cost"] == 0.0);
  CHECK(kept["idle_ranks"] == 3);

  const auto all = lethe_json(ws, {"train", "--dry-run", "--from-scratch", "--ranks", "3"});
  CHECK(all["nodes_to_train"] == 16);
  REQUIRE(all["units"].size() == 8);  // per shard, one subtree under each of its 2 first stages
  std::vector<double> load(3, 0.0);
  double total = 0, largest = 0;
  for (const auto& u : all["units"]) {
    const int rank = u["rank"];
    REQUIRE(rank >= 0);
    REQUIRE(rank < 3);
    load[static_cast<size_t>(rank)] += u["cost"].get<double>();
    total += u["cost"].get<double>();
    largest = std::max(largest, u["cost"].get<double>());
    CHECK(u["cost"].get<double>() > 0);
  }
  CHECK(all["rank_load"] == nlohmann::json(load));
  CHECK(all["total_cost"].get<double>() == Approx(total));
  CHECK(all["makespan"].get<double>() == *std::max_element(load.begin(), load.end()));
  CHECK(all["lower_bound"].get<double>() == Approx(total / 3));
  CHECK(all["efficiency"].get<double>() == Approx(total / 3 / all["makespan"].get<double>()));
  CHECK(all["idle_ranks"] == 0);
  // More ranks than units: the extra ones wait, and the largest unit is the run.
  const auto wide = lethe_json(ws, {"train", "--dry-run", "--from-scratch", "--ranks", "64"});
  CHECK(wide["idle_ranks"] == 64 - 8);
  CHECK(wide["makespan"].get<double>() == largest);

  CHECK(read_file(ws / "lineage.db") == index_before);
  CHECK(node_files(ws) == files_before);
  const auto real = lethe_in(ws, {"train", "--ranks", "2"});
  CHECK(real.exit_code == 2);
  CHECK_THAT(real.err, Catch::Contains("--ranks is for --dry-run"));
}

TEST_CASE("device: without a GPU, --device cuda and bf16 are usage errors that say why", "[device][trained]") {
  const auto v = nlohmann::json::parse(test::run_process({LETHE_BIN, "--json", "--version"}).out);
  if (!v["gpus"].empty()) LETHE_SKIP("this machine has a GPU");
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::copy_trained_workspace(ws);
  const auto cuda = lethe_in(ws, {"--device", "cuda", "eval"});
  CHECK(cuda.exit_code == 2);
  CHECK_THAT(cuda.err, Catch::Contains("--device cuda") && Catch::Contains("has no GPU"));
  CHECK(cuda.out.empty());
  const auto bf16 = lethe_in(ws, {"--set", "runtime.precision=bf16", "predict"});
  CHECK(bf16.exit_code == 2);
  CHECK_THAT(bf16.err, Catch::Contains("runtime.precision = 'bf16' runs on a GPU only"));
  const auto typo = lethe_in(ws, {"--device", "gpu", "eval"});
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("runtime.device"));
}

// Runs where a GPU is (a user's GPU machine with the whole build; launch/gpu-check.sh runs it):
// what docs/gpu.md claims of GPU training.
TEST_CASE("device: nodes trained on the GPU learn, record it, serve on the CPU and replay bit for bit on the GPU",
          "[device][gpu]") {
  const auto v = nlohmann::json::parse(test::run_process({LETHE_BIN, "--json", "--version"}).out);
  if (v["gpus"].empty()) LETHE_SKIP("no GPU: " << v["no_gpu_reason"].get<std::string>());
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  const double base_accuracy = prepared(ws);
  const auto t = lethe_json(ws, with_small({"--device", "cuda", "train"}));
  test::check_training_loss_falls(t, 16);
  const auto on_gpu = lethe_json(ws, with_small({"--device", "cuda", "eval"}));
  CHECK(on_gpu["accuracy"].get<double>() > base_accuracy + kLearnedMargin);
  // The checkpoints are the same format: the CPU serves them, to within rounding.
  const auto on_cpu = lethe_json(ws, with_small({"--device", "cpu", "eval"}));
  CHECK(std::abs(on_cpu["accuracy"].get<double>() - on_gpu["accuracy"].get<double>()) <= 0.01);
  for (const auto& [node, file] : node_files(ws)) {
    INFO(file);
    CHECK(read_file(ws / "checkpoints" / file).find("\\\"device\\\":\\\"cuda\\\"") != std::string::npos);
  }
  // Deterministic algorithms: trained again on this GPU, every node gives the same bytes.
  const auto audit = lethe_json(ws, with_small({"audit", "verify", "--replay", "all"}));
  CHECK(audit["ok"] == true);
  CHECK(audit["checked"]["replayed"] == 16);
  CHECK(audit["replay"]["not_replayable_here"].empty());
}

TEST_CASE("mpirun: single-process commands refuse, and one rank's error ends the job with its code",
          "[mpi]") {
  test::TempDir dir;
  lethe_json(dir / "ws", {"init"});
  const auto status = mpirun_in(2, dir / "ws", {"status"});
  CHECK(status.exit_code == 2);
  CHECK_THAT(status.err, Catch::Contains("runs as a single process"));
  // The message names every command that does run over ranks (from their definitions).
  CHECK_THAT(status.err, Catch::Contains("only pretrain, train, eval, predict, retrain, simulate and bench reduction run under mpirun"));
  const auto missing = mpirun_in(2, dir / "nothing-here", {"train"});
  CHECK(missing.exit_code == 5);
  CHECK_THAT(missing.err, Catch::Contains("no Lethe workspace"));
}
