// `lethe pretrain` and `lethe import-base` end to end on Debian's data.
#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "checkpoints/safetensors.h"
#include "src/common/fs.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

// A workspace with a small Fashion-MNIST sample and a one-epoch base.
nlohmann::json pretrained(const fs::path& ws) {
  lethe_json(ws, {"init"});
  lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "6000"});
  return lethe_json(ws, {"--set", "pretrain.epochs=1", "pretrain"});
}

}  // namespace

TEST_CASE("pretrain: a fashion-mnist base beats chance on the test split", "[pretrain]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  const auto r = pretrained(ws);
  CHECK(r["base"]["spec"]["arch"] == "vit");
  CHECK(r["records"].get<int>() > 300);
  CHECK(r["test"]["accuracy"].get<double>() > r["test"]["majority_accuracy"].get<double>() + 0.2);
  CHECK(fs::exists(ws / r["base"]["file"].get<std::string>()));
  const auto status = lethe_json(ws, {"status"});
  CHECK(status["base"]["hash"] == r["base"]["hash"]);
  CHECK(status["base"]["source"] == "pretrain");
}

TEST_CASE("pretrain: the same seed gives a bit-identical base", "[pretrain][determinism]") {
  test::TempDir dir;
  const auto a = pretrained(dir / "a");
  const auto b = pretrained(dir / "b");
  CHECK(a["base"]["hash"] == b["base"]["hash"]);
}

TEST_CASE("import-base: a checkpoint of the right shape is adopted from one file or from shards",
          "[pretrain][import]") {
  test::TempDir dir;
  const fs::path source = dir / "source";
  const auto trained = pretrained(source);
  const fs::path file = source / trained["base"]["file"].get<std::string>();

  const fs::path target = dir / "target";
  lethe_json(target, {"init"});
  lethe_json(target, {"ingest", "--dataset", "fashion-mnist", "--limit", "6000"});
  const auto imported = lethe_json(target, {"import-base", "--safetensors", file.string()});
  CHECK(imported["spec"] == trained["base"]["spec"]);
  // The same tensors, bit for bit (the metadata differs: it records the import).
  const auto tensors = [](const fs::path& f) { return read_safetensors(f).tensors; };
  const auto a = tensors(file), b = tensors(target / imported["file"].get<std::string>());
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].bytes == b[i].bytes);
  }

  // The same weights as a Hugging Face sharded checkpoint.
  const SafetensorsFile whole = read_safetensors(file);
  SafetensorsFile first, second;
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < whole.tensors.size(); ++i) {
    const bool in_first = i < whole.tensors.size() / 2;
    (in_first ? first : second).tensors.push_back(whole.tensors[i]);
    index["weight_map"][whole.tensors[i].name] = in_first ? "model-00001-of-00002.safetensors"
                                                          : "model-00002-of-00002.safetensors";
  }
  const fs::path sharded = dir / "sharded";
  fs::create_directories(sharded);
  write_safetensors(sharded / "model-00001-of-00002.safetensors", first);
  write_safetensors(sharded / "model-00002-of-00002.safetensors", second);
  write_file_atomic(sharded / "model.safetensors.index.json", index.dump());
  const auto again = lethe_json(target, {"import-base", "--safetensors", sharded.string()});
  CHECK(again["spec"] == imported["spec"]);
}

namespace {

// What a Llama-family export looks like: LlamaForCausalLM names, bfloat16, grouped-query
// attention (2 key/value heads for 4 query heads), tied embeddings (no lm_head), a rotary
// inv_freq buffer, no classification head; config.json goes beside it.
constexpr int64_t kHfHidden = 32, kHfHeads = 4, kHfKv = 2, kHfInter = 64, kHfVocab = 300, kHfLayers = 4;

TensorEntry bf16_tensor(const std::string& name, const std::vector<int64_t>& shape) {
  TensorEntry t;
  t.name = name;
  t.dtype = DType::kBF16;
  t.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) {
    // bfloat16 of small values: 0x3c00 + (i % 64) is roughly 0.0078..0.0117.
    const uint16_t v = static_cast<uint16_t>(0x3c00 + (i % 64));
    t.bytes.push_back(static_cast<char>(v & 0xff));
    t.bytes.push_back(static_cast<char>(v >> 8));
  }
  return t;
}

SafetensorsFile hf_llama_tensors() {
  SafetensorsFile f;
  const int64_t hidden = kHfHidden, heads = kHfHeads, kv = kHfKv, inter = kHfInter;
  f.tensors.push_back(bf16_tensor("model.embed_tokens.weight", {kHfVocab, hidden}));
  f.tensors.push_back(bf16_tensor("model.norm.weight", {hidden}));
  for (int64_t l = 0; l < kHfLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    f.tensors.push_back(bf16_tensor(p + "input_layernorm.weight", {hidden}));
    f.tensors.push_back(bf16_tensor(p + "post_attention_layernorm.weight", {hidden}));
    f.tensors.push_back(bf16_tensor(p + "self_attn.q_proj.weight", {hidden, hidden}));
    f.tensors.push_back(bf16_tensor(p + "self_attn.k_proj.weight", {kv * hidden / heads, hidden}));
    f.tensors.push_back(bf16_tensor(p + "self_attn.v_proj.weight", {kv * hidden / heads, hidden}));
    f.tensors.push_back(bf16_tensor(p + "self_attn.o_proj.weight", {hidden, hidden}));
    f.tensors.push_back(bf16_tensor(p + "self_attn.rotary_emb.inv_freq", {hidden / heads / 2}));
    f.tensors.push_back(bf16_tensor(p + "mlp.gate_proj.weight", {inter, hidden}));
    f.tensors.push_back(bf16_tensor(p + "mlp.up_proj.weight", {inter, hidden}));
    f.tensors.push_back(bf16_tensor(p + "mlp.down_proj.weight", {hidden, inter}));
  }
  return f;
}

nlohmann::json hf_llama_config() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"num_attention_heads", kHfHeads},
          {"num_key_value_heads", kHfKv},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", true}};
}

// Writes a Hugging Face model directory `dir` (model.safetensors, config.json).
void write_hf_model(const fs::path& dir, SafetensorsFile f, const nlohmann::json& config) {
  fs::create_directories(dir);
  std::sort(f.tensors.begin(), f.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  write_safetensors(dir / "model.safetensors", f);
  write_file_atomic(dir / "config.json", config.dump());
}

// A text workspace (fortunes) to import into.
fs::path text_workspace(const fs::path& ws) {
  lethe_json(ws, {"init"});
  lethe_json(ws, {"ingest", "--dataset", "fortunes", "--limit", "2000"});
  return ws;
}

}  // namespace

TEST_CASE("import-base: a Hugging Face Llama causal-LM checkpoint loads without renaming",
          "[pretrain][import]") {
  test::TempDir dir;
  const fs::path model = dir / "hf-llama";
  write_hf_model(model, hf_llama_tensors(), hf_llama_config());
  const fs::path ws = text_workspace(dir / "ws");
  const auto r = lethe_json(ws, {"import-base", "--safetensors", model.string()});
  CHECK(r["spec"]["num_heads"] == kHfHeads);
  CHECK(r["spec"]["num_kv_heads"] == kHfKv);
  CHECK(r["spec"]["num_layers"] == kHfLayers);
  CHECK(r["spec"]["vocab_size"] == kHfVocab);
  CHECK(r["spec"]["rope_theta"] == 500000.0);
  const std::string notes = r["notes"].dump();
  CHECK_THAT(notes, Catch::Contains("float32") && Catch::Contains("lm_head") && Catch::Contains("score"));
  CHECK(lethe_json(ws, {"status"})["base"]["source"] == "import");
}

TEST_CASE("import-base: a bad config.json or tensor name is an input error before anything is allocated",
          "[pretrain][import]") {
  test::TempDir dir;
  const fs::path ws = text_workspace(dir / "ws");
  const auto refused = [&](const std::string& name, const SafetensorsFile& f, const nlohmann::json& config,
                           const std::vector<std::string>& named) {
    INFO(name);
    const fs::path model = dir / name;
    write_hf_model(model, f, config);
    const auto r = lethe_in(ws, {"import-base", "--safetensors", model.string()});
    CHECK(r.exit_code == 3);
    for (const std::string& s : named) CHECK_THAT(r.err, Catch::Contains(s));
  };
  // Zero or negative heads divided by zero (SIGFPE); a string is no count either.
  const std::vector<nlohmann::json> bad_heads = {0, -4, "4", 2.5};
  for (size_t i = 0; i < bad_heads.size(); ++i) {
    nlohmann::json config = hf_llama_config();
    config["num_attention_heads"] = bad_heads[i];
    refused("heads-" + std::to_string(i), hf_llama_tensors(), config, {"config.json", "num_attention_heads"});
  }
  nlohmann::json bad_eps = hf_llama_config();
  bad_eps["rms_norm_eps"] = -1;
  refused("eps", hf_llama_tensors(), bad_eps, {"config.json", "rms_norm_eps"});
  // Key/value heads that do not divide the query heads.
  SafetensorsFile kv3 = hf_llama_tensors();
  for (auto& t : kv3.tensors) {
    if (t.name.find("k_proj") != std::string::npos || t.name.find("v_proj") != std::string::npos) {
      t = bf16_tensor(t.name, {3 * kHfHidden / kHfHeads, kHfHidden});
    }
  }
  refused("kv3", kv3, hf_llama_config(), {"k_proj"});
  // One stray layer index made a model a billion layers deep; one past int64 threw out_of_range.
  for (const std::string& index : {std::string("1000000000"), std::string("99999999999999999999999")}) {
    SafetensorsFile f = hf_llama_tensors();
    f.tensors.push_back(bf16_tensor("model.layers." + index + ".input_layernorm.weight", {kHfHidden}));
    refused("layer-" + index, f, hf_llama_config(), {"model.layers." + index});
  }
  // A tensor with no elements but a huge dimension is a few bytes on disk; the sizes it implies
  // (here a 2^40-wide MLP) must be checked before the fresh head, and never a whole random
  // model, is allocated.
  SafetensorsFile wide = hf_llama_tensors();
  for (auto& t : wide.tensors) {
    if (t.name == "model.layers.0.mlp.gate_proj.weight") t = bf16_tensor(t.name, {int64_t{1} << 40, 0});
  }
  refused("wide", wide, hf_llama_config(), {"model.layers.0.mlp.gate_proj.weight"});
}

TEST_CASE("import-base: names and shapes that do not fit are clear errors", "[pretrain][import]") {
  test::TempDir dir;
  const fs::path source = dir / "source";
  const auto trained = pretrained(source);
  const fs::path file = source / trained["base"]["file"].get<std::string>();

  // A ViT base cannot serve a text workspace.
  const fs::path text = dir / "text";
  lethe_json(text, {"init"});
  lethe_json(text, {"ingest", "--dataset", "fortunes", "--limit", "2000"});
  auto r = lethe_in(text, {"import-base", "--safetensors", file.string()});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("model.embed_tokens.weight"));

  // A misshapen tensor and a stray one are both named.
  SafetensorsFile f = read_safetensors(file);
  for (auto& t : f.tensors) {
    if (t.name == "model.norm.weight") {
      t.shape = {t.shape[0] / 2};
      t.bytes.resize(t.bytes.size() / 2);
    }
  }
  TensorEntry stray = f.tensors.front();
  stray.name = "model.stray.weight";
  f.tensors.push_back(stray);
  std::sort(f.tensors.begin(), f.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  write_safetensors(dir / "bad.safetensors", f);
  r = lethe_in(source, {"import-base", "--safetensors", (dir / "bad.safetensors").string()});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("model.norm.weight") && Catch::Contains("model.stray.weight"));
  // The failed import left the existing base in place.
  CHECK(lethe_json(source, {"status"})["base"]["hash"] == trained["base"]["hash"]);

  // A truncated file is an integrity error, not a crash.
  std::string bytes = read_file(file);
  bytes.resize(bytes.size() / 2);
  write_file_atomic(dir / "cut.safetensors", bytes);
  r = lethe_in(source, {"import-base", "--safetensors", (dir / "cut.safetensors").string()});
  CHECK(r.exit_code == 4);
}

TEST_CASE("import-base: kill -9 before or after the commit leaves one consistent base",
          "[pretrain][import][crash]") {
  test::TempDir dir;
  const fs::path source = dir / "source";
  const auto trained = pretrained(source);
  const fs::path file = source / trained["base"]["file"].get<std::string>();
  // A second checkpoint with other weights (another seed) to import over the first.
  const fs::path other = dir / "other";
  lethe_json(other, {"init"});
  lethe_json(other, {"ingest", "--dataset", "fashion-mnist", "--limit", "6000"});
  const auto second = lethe_json(other, {"--set", "pretrain.epochs=1", "--set", "pretrain.seed=7", "pretrain"});
  const fs::path second_file = other / second["base"]["file"].get<std::string>();

  for (const char* point : {"base.before_commit", "base.after_commit"}) {
    INFO(point);
    const fs::path ws = dir / point;
    lethe_json(ws, {"init"});
    lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "6000"});
    const auto first = lethe_json(ws, {"import-base", "--safetensors", file.string()});
    test::RunOptions crash;
    crash.env = {std::string("LETHE_CRASH_AT=") + point};
    const auto killed = test::run_lethe({"--workspace", ws.string(), "import-base", "--safetensors",
                                         second_file.string()}, crash);
    REQUIRE(killed.exit_code == 128 + 9);
    const bool committed = std::string(point) == "base.after_commit";
    lethe_json(ws, {"recover"});
    const auto base = lethe_json(ws, {"status"})["base"];
    if (committed) CHECK(base["hash"] != first["hash"]);
    else CHECK(base["hash"] == first["hash"]);
    // Exactly one base file is left: the live one.
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(ws / "checkpoints")) files += e.is_regular_file();
    CHECK(files == 1);
    CHECK(fs::exists(ws / base["file"].get<std::string>()));
  }
}
