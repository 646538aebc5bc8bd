// `lethe export` read back by the real clients: an S3T model on the imported all-MiniLM-L6-v2,
// exported after a forget, loaded with transformers + peft.PeftModel.from_pretrained
// (tests/interop/peft_check.py), gives Lethe's per-shard logits; the switched-off components
// are not in the export. Without the venv the test says SKIP.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "checkpoints/safetensors.h"
#include "src/common/fs.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/venv_python.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

// Lethe's per-shard logits (`predict --per-shard`) against transformers + PEFT reading the
// export; returns the largest difference.
double largest_logit_difference(const fs::path& ws, const fs::path& exported, const fs::path& scratch) {
  const std::vector<std::string> texts = {"The Enterprise warped to the Klingon home world.",
                                          "I love pizza with extra cheese, and garlic bread too!",
                                          "The court ruled for the plaintiff; the defendant appealed.",
                                          "Kids say the darndest things.", "?"};
  std::string requests;
  for (const auto& t : texts) requests += nlohmann::json({{"text", t}}).dump() + "\n";
  test::write_text(scratch / "requests.jsonl", requests);
  test::write_text(scratch / "texts.json", nlohmann::json(texts).dump());
  const auto answers = lethe_in(ws, {"predict", "--per-shard", "--input", (scratch / "requests.jsonl").string()});
  REQUIRE(answers.exit_code == 0);
  test::venv_python({test::interop_script("peft_check.py").string(), "logits", "--export", exported.string(), "--texts",
              (scratch / "texts.json").string(), "--out", (scratch / "peft.json").string()});
  const auto peft = nlohmann::json::parse(read_file(scratch / "peft.json"));
  const auto lines = test::lines_of(answers.out);
  REQUIRE(lines.size() == texts.size());
  double worst = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto a = nlohmann::json::parse(lines[i]);
    REQUIRE(a["shards"].size() == 2);
    for (const auto& s : a["shards"]) {
      const auto& theirs = peft.at("shard-" + std::to_string(s["shard"].get<int>())).at(i);
      REQUIRE(theirs.size() == s["logits"].size());
      for (size_t k = 0; k < theirs.size(); ++k) {
        worst = std::max(worst, std::abs(theirs[k].get<double>() - s["logits"][k].get<double>()));
      }
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("export: the serving S3T chains after a forget load with transformers and PEFT and give Lethe's "
          "per-shard logits within 1e-4, without the switched-off components",
          "[export][bert][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  const fs::path model = test::minilm_dir();
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::write_text(dir / "s3t.toml", "[data]\ncategories = [\"food\", \"kids\", \"law\"]\n"
                                     "[plan]\nshards = 2\nslices = 3\n[model]\nmax_seq_len = 48\n"
                                     "[lora]\ntarget_modules = [\"query\", \"value\"]\n"
                                     "[train]\nmode = \"s3t\"\nsequences = 1\nepochs_per_stage = 1\n");
  lethe_json(ws, {"init", "--config", (dir / "s3t.toml").string()});
  lethe_json(ws, {"ingest", "--dataset", "fortunes"});
  lethe_json(ws, {"import-base", model.string()});
  lethe_json(ws, {"train"});

  // A trailing separator names the same directory.
  const auto before = lethe_json(ws, {"export", "--out", (dir / "before").string() + "/"});
  REQUIRE(before["shards"].size() == 2);
  for (const auto& s : before["shards"]) CHECK(s["stages"] == 3);
  CHECK(lethe_in(ws, {"export", "--out", (dir / "before").string()}).exit_code == 6);  // never overwritten

  // Forget one train record of shard 0's second slice: its stages 2 and 3 switch off.
  const auto found = lethe_json(ws, {"find", "--text", "e"});
  std::string victim;
  for (const auto& r : found["records"]) {
    if (r["split"] == "train" && r["shard"] == 0 && r["slice"] == 1) victim = r["id"];
  }
  REQUIRE(!victim.empty());
  const auto forgot = lethe_json(ws, {"forget", "--id", victim, "--request-id", "R1"});
  std::set<int64_t> off;
  for (const auto& c : forgot["deactivated"]) off.insert(c["component_id"].get<int64_t>());
  REQUIRE(off.size() == 2);

  const auto after = lethe_json(ws, {"export", "--out", (dir / "after").string()});
  REQUIRE(after["shards"].size() == 2);
  CHECK(after["ledger_head"]["seq"].get<int64_t>() > before["ledger_head"]["seq"].get<int64_t>());
  for (const auto& s : after["shards"]) {
    for (const auto& c : s["components"]) CHECK(off.count(c["component_id"].get<int64_t>()) == 0);
    if (s["shard"] == 0) {
      CHECK(s["stages"] == 1);
      CHECK(s["groups"] == nlohmann::json({0}));
      // The adapter holds the top group's blocks only (6 blocks, 3 groups: blocks 4 and 5).
      const auto config = nlohmann::json::parse(read_file(dir / "after" / "shard-0" / "adapter_config.json"));
      CHECK(config["layers_to_transform"] == nlohmann::json({4, 5}));
      CHECK(config["target_modules"] == nlohmann::json({"query", "value"}));
      // And the file holds nothing else: no tensor of the switched-off stages' blocks.
      const auto tensors = read_safetensors(dir / "after" / "shard-0" / "adapter_model.safetensors");
      REQUIRE(tensors.tensors.size() == 2 * 2 * 2);  // 2 blocks x query, value x lora_A, lora_B
      for (const auto& t : tensors.tensors) {
        INFO(t.name);
        CHECK((t.name.find("encoder.layer.4.") != std::string::npos || t.name.find("encoder.layer.5.") != std::string::npos));
      }
    } else {
      CHECK(s["stages"] == 3);
    }
  }

  // Lethe's per-shard logits against transformers + PEFT reading the export.
  const double worst = largest_logit_difference(ws, dir / "after", dir.path());
  INFO("largest logit difference " << worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("export: a Llama that transformers saved, imported, trained with S3T and exported, loads back as "
          "LlamaForSequenceClassification with PEFT and gives Lethe's per-shard logits within 1e-4",
          "[export][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  test::TempDir dir;
  test::venv_python({test::interop_script("hf_reference.py").string(), "llama", "--out", (dir / "llama").string(), "--seed", "5"});
  const fs::path ws = dir / "ws";
  test::write_text(dir / "s3t.toml", "[data]\ncategories = [\"food\", \"kids\", \"law\"]\n"
                                     "[plan]\nshards = 2\nslices = 2\n"
                                     "[train]\nmode = \"s3t\"\nsequences = 1\nepochs_per_stage = 1\n");
  lethe_json(ws, {"init", "--config", (dir / "s3t.toml").string()});
  lethe_json(ws, {"ingest", "--dataset", "fortunes"});
  CHECK(lethe_json(ws, {"import-base", (dir / "llama").string()})["spec"]["num_kv_heads"] == 2);
  lethe_json(ws, {"train"});
  const auto manifest = lethe_json(ws, {"export", "--out", (dir / "export").string()});
  CHECK(manifest["base"]["arch"] == "llama");
  const auto config = nlohmann::json::parse(read_file(dir / "export" / "base" / "config.json"));
  CHECK(config["architectures"] == nlohmann::json({"LlamaForSequenceClassification"}));
  const double worst = largest_logit_difference(ws, dir / "export", dir.path());
  INFO("largest logit difference " << worst);
  CHECK(worst < 1e-4);
}
