// `lethe pretrain` and `lethe import-base` end to end on Debian's data.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "checkpoints/safetensors.h"
#include "src/common/fs.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

test::ProcessResult lethe_in(const fs::path& ws, std::vector<std::string> args) {
  args.insert(args.begin(), {"--workspace", ws.string()});
  return test::run_lethe(args);
}

nlohmann::json lethe_json(const fs::path& ws, std::vector<std::string> args) {
  args.insert(args.begin(), "--json");
  const auto r = lethe_in(ws, args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(test::lines_of(r.out).back());
}

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
