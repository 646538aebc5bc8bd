// LoRA: PEFT's init and scaling, groups, merge/unmerge, gradients, and adapter files.
#include "tests/support/catch_torch.h"

#include <nlohmann/json.hpp>

#include "peft/adapter_io.h"
#include "peft/lora.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/models/model.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

ModelSpec tiny_llama(int64_t layers = 4) { return test::tiny_llama(layers, 6); }

ModelInput tokens() {
  ModelInput in;
  in.tokens = torch::tensor({1, 5, 7, 2, 9, 3, 4, 4, 8, 0, 0, 0}, torch::kInt64).view({2, 6});
  in.lengths = torch::tensor({6, 3}, torch::kInt64);
  return in;
}

LoraConfig config(std::vector<std::string> targets = {"q_proj", "v_proj"}) {
  LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.target_modules = std::move(targets);
  return c;
}

// Gives every B random values, so that adapters change the output.
void randomise_b(LoraSet& set, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, a] : set.adapters) a.B.normal_(0.0, 0.5, gen);
}

at::Tensor logits(const ModelSpec& s, const Weights& w, const LoraSet* lora) {
  ForwardOptions o;
  o.lora = lora;
  return forward(s, w, tokens(), o).logits;
}

}  // namespace

TEST_CASE("lora: PEFT's init: A uniform within 1/sqrt(in), B zero", "[lora]") {
  const ModelSpec s = tiny_llama();
  const LoraSet set = make_lora_set(linear_layers(s), config(), s.num_layers, 2, 1);
  CHECK(set.adapters.size() == 8);  // q and v in 4 blocks
  for (const auto& [name, a] : set.adapters) {
    CHECK((a.A.sizes().vec() == std::vector<int64_t>{4, 8}));
    CHECK(a.A.abs().max().item<double>() <= 1.0 / std::sqrt(8.0));
    CHECK(a.A.abs().max().item<double>() > 0);
    CHECK(a.B.abs().max().item<double>() == 0);
  }
  CHECK(set.scaling == 2.0);
  LoraConfig rs = config();
  rs.use_rslora = true;
  CHECK(lora_scaling(rs) == Approx(8.0 / 2.0));
}

TEST_CASE("lora: with B = 0 the model equals the base, bit for bit", "[lora]") {
  const ModelSpec s = tiny_llama();
  const Weights w = init_weights(s, 1);
  const LoraSet set = make_lora_set(linear_layers(s), config(), s.num_layers, 2, 7);
  CHECK(torch::equal(logits(s, w, &set), logits(s, w, nullptr)));
}

TEST_CASE("lora: groups are top-down, and a disabled group equals the base", "[lora]") {
  CHECK(group_of_layer(3, 4, 2) == 0);  // the top blocks form group 0
  CHECK(group_of_layer(2, 4, 2) == 0);
  CHECK(group_of_layer(0, 4, 2) == 1);
  CHECK(group_of_layer(0, 4, 4) == 3);
  CHECK_THROWS_WITH(group_of_layer(0, 6, 4), Catch::Contains("plan.slices"));

  const ModelSpec s = tiny_llama();
  const Weights w = init_weights(s, 1);
  LoraSet set = make_lora_set(linear_layers(s), config(), s.num_layers, 2, 7);
  randomise_b(set, 3);
  const at::Tensor base = logits(s, w, nullptr);
  CHECK_FALSE(torch::allclose(logits(s, w, &set), base));
  set.enabled = {false, false};
  CHECK(torch::equal(logits(s, w, &set), base));
  // Disabling group 1 is the same as having no adapters in blocks 0 and 1.
  set.enabled = {true, false};
  const at::Tensor only_top = logits(s, w, &set);
  LoraSet top_only = set;
  top_only.enabled = {true, true};
  for (auto& [name, a] : top_only.adapters) {
    if (a.group == 1) a.B = torch::zeros_like(a.B);
  }
  CHECK(torch::allclose(only_top, logits(s, w, &top_only), 1e-6, 1e-7));
}

TEST_CASE("lora: merge then unmerge restores the base weights within 1e-6", "[lora]") {
  const ModelSpec s = tiny_llama();
  Weights w = init_weights(s, 1);
  Weights original;
  for (const auto& [name, t] : w) original[name] = t.clone();
  LoraSet set = make_lora_set(linear_layers(s), config({"all-linear"}), s.num_layers, 2, 7);
  randomise_b(set, 4);
  const at::Tensor adapted = logits(s, w, &set);
  merge_lora(w, set);
  CHECK(torch::allclose(logits(s, w, &set), adapted, 1e-5, 1e-6));  // merged: no LoRA pass
  CHECK_THROWS_AS(merge_lora(w, set), Error);
  unmerge_lora(w, set);
  for (const auto& [name, t] : w) {
    CHECK((t - original.at(name)).abs().max().item<double>() <= 1e-6);
  }
}

TEST_CASE("lora: gradients of LoRA parameters match finite differences", "[lora]") {
  const ModelSpec s = tiny_llama(2);
  Weights w = init_weights(s, 1);
  for (auto& [name, t] : w) t = t.to(torch::kFloat64);
  LoraSet set = make_lora_set(linear_layers(s), config(), s.num_layers, 2, 7);
  randomise_b(set, 5);
  for (auto& [name, a] : set.adapters) {
    a.A = a.A.to(torch::kFloat64);
    a.B = a.B.to(torch::kFloat64);
  }
  const std::vector<at::Tensor> params = set_trainable_groups(set, {0});
  CHECK(params.size() == 2 * 2);  // q and v of the top block
  const at::Tensor labels = torch::tensor({2, 0}, torch::kInt64);
  auto loss = [&] { return torch::cross_entropy_loss(logits(s, w, &set), labels); };
  loss().backward();
  for (const at::Tensor& p : params) {
    const at::Tensor grad = p.grad().clone();
    torch::NoGradGuard no_grad;
    auto flat = p.view({-1});
    for (int64_t i = 0; i < flat.size(0); i += 3) {
      const double keep = flat[i].item<double>(), eps = 1e-6;
      flat[i] = keep + eps;
      const double up = loss().item<double>();
      flat[i] = keep - eps;
      const double down = loss().item<double>();
      flat[i] = keep;
      CHECK(grad.view({-1})[i].item<double>() == Approx((up - down) / (2 * eps)).margin(1e-7));
    }
  }
  // Frozen groups get no gradient.
  for (const auto& [name, a] : set.adapters) {
    if (a.group == 1) CHECK_FALSE(a.A.grad().defined());
  }
}

TEST_CASE("lora: target_modules follow PEFT's suffix rule", "[lora]") {
  const ModelSpec s = tiny_llama();
  const auto linears = linear_layers(s);
  CHECK(match_target_modules(linears, {"q_proj"}).size() == 4);
  CHECK(match_target_modules(linears, {"self_attn.q_proj", "down_proj"}).size() == 8);
  CHECK(match_target_modules(linears, {"all-linear"}).size() == 4 * 7);
  CHECK_THROWS_WITH(match_target_modules(linears, {"qproj"}),
                    Catch::Contains("'qproj' matches no Linear") && Catch::Contains("q_proj"));
  CHECK_THROWS_WITH(match_target_modules(linears, {"proj"}), Catch::Contains("'proj'"));
}

TEST_CASE("lora: an exported adapter loads back bit-identically with PEFT's field names", "[lora]") {
  test::TempDir dir;
  const ModelSpec s = tiny_llama();
  LoraSet set = make_lora_set(linear_layers(s), config(), s.num_layers, 2, 7);
  randomise_b(set, 6);
  AdapterExport options;
  options.base_model_name = "lethe-base";
  options.modules_to_save["score.weight"] = torch::randn({3, 8});
  export_adapter(dir / "a", set, options);

  const nlohmann::json cfg = nlohmann::json::parse(read_file(dir / "a" / "adapter_config.json"));
  for (const char* key : {"peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "target_modules",
                          "use_rslora", "bias", "modules_to_save", "base_model_name_or_path",
                          "layers_to_transform", "fan_in_fan_out", "init_lora_weights"}) {
    CHECK(cfg.contains(key));
  }
  CHECK(cfg["peft_type"] == "LORA");
  CHECK(cfg["r"] == 4);
  CHECK(cfg["target_modules"] == nlohmann::json({"q_proj", "v_proj"}));
  CHECK(cfg["modules_to_save"] == nlohmann::json({"score"}));

  const LoadedAdapter back = load_adapter(dir / "a");
  REQUIRE(back.set.adapters.size() == set.adapters.size());
  for (const auto& [name, a] : set.adapters) {
    const LoraAdapter& b = back.set.adapters.at(name);
    CHECK(torch::equal(a.A, b.A));
    CHECK(torch::equal(a.B, b.B));
    CHECK(a.group == b.group);
  }
  CHECK(torch::equal(back.modules_to_save.at("score.weight"), options.modules_to_save["score.weight"]));
  CHECK(back.set.scaling == set.scaling);
  // Exporting what was loaded gives the same bytes.
  export_adapter(dir / "b", back.set, options);
  CHECK(read_file(dir / "a" / "adapter_model.safetensors") == read_file(dir / "b" / "adapter_model.safetensors"));
  CHECK(read_file(dir / "a" / "adapter_config.json") == read_file(dir / "b" / "adapter_config.json"));

  // One group alone: layers_to_transform names its blocks.
  options.groups = {0};
  export_adapter(dir / "top", set, options);
  const nlohmann::json top = nlohmann::json::parse(read_file(dir / "top" / "adapter_config.json"));
  CHECK(top["layers_to_transform"] == nlohmann::json({2, 3}));
  CHECK(load_adapter(dir / "top").set.adapters.size() == 4);
}
