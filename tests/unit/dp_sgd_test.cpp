// The DP-SGD step with ghost clipping against its definition: each privacy unit's gradient
// formed (one backward pass per unit), clipped to C (flat, or per layer to C / sqrt(layers)),
// summed, divided by the expected batch size. The model trains LoRA adapters and its
// classification head (a full-parameter Linear), as the DP2 trainer does.
#include "tests/support/catch_torch.h"

#include <torch/torch.h>

#include <cmath>

#include "peft/lora.h"
#include "src/common/error.h"
#include "src/models/model.h"
#include "src/privacy/dp_sgd.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

struct Setup {
  ModelSpec spec = test::tiny_llama(4, 6);
  Weights weights = init_weights(spec, 1);
  LoraSet set;
  ModelInput input;
  at::Tensor projection;  // the per-example loss is a fixed random projection of the logits
  std::vector<at::Tensor> params;  // trained: group 0's adapters, then the head

  Setup() {
    LoraConfig c;
    c.r = 4;
    c.lora_alpha = 8;
    c.target_modules = {"q_proj", "v_proj"};
    set = make_lora_set(linear_layers(spec), c, spec.num_layers, 2, 3);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    {
      // In float64, so that 1e-5 does not hang on summation order.
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : weights) t = t.to(torch::kFloat64);
      for (auto& [name, a] : set.adapters) {
        a.B.normal_(0.0, 0.5, gen);
        a.A = a.A.to(torch::kFloat64);
        a.B = a.B.to(torch::kFloat64);
      }
    }
    params = set_trainable_groups(set, {0});
    weights["score.weight"] = weights["score.weight"].clone().set_requires_grad(true);
    params.push_back(weights["score.weight"]);
    input.tokens = torch::tensor({1, 5, 7, 2, 9, 3, 4, 4, 8, 0, 0, 0, 6, 6, 1, 2, 0, 0, 3, 3, 3, 3, 3, 3},
                                 torch::kInt64).view({4, 6});
    input.lengths = torch::tensor({6, 3, 4, 6}, torch::kInt64);
    auto pgen = at::make_generator<at::CPUGeneratorImpl>(9);
    projection = torch::randn(forward(spec, weights, input).logits.sizes(), pgen, torch::kFloat64);
  }

  at::Tensor losses(ActivationCapture* capture) {
    ForwardOptions o;
    o.lora = &set;
    o.capture = capture;
    return (forward(spec, weights, input, o).logits * projection).flatten(1).sum(1);
  }

  // Per unit: its gradient (one tensor per parameter), from the summed loss of its rows.
  std::vector<std::vector<at::Tensor>> per_unit_grads(const std::vector<int64_t>& unit_of_row) {
    const at::Tensor l = losses(nullptr);
    const int64_t units = *std::max_element(unit_of_row.begin(), unit_of_row.end()) + 1;
    std::vector<std::vector<at::Tensor>> out;
    for (int64_t u = 0; u < units; ++u) {
      at::Tensor lu = torch::zeros({}, torch::kFloat64);
      for (size_t i = 0; i < unit_of_row.size(); ++i) {
        if (unit_of_row[i] == u) lu = lu + l[static_cast<int64_t>(i)];
      }
      for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();
      lu.backward({}, /*retain_graph=*/true);
      std::vector<at::Tensor> g;
      for (const at::Tensor& p : params) g.push_back(p.grad().clone());
      out.push_back(g);
    }
    return out;
  }

  DpSgdStats step(const std::vector<int64_t>& unit_of_row, const DpSgdStep& st, uint64_t seed = 1) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return dp_sgd_gradients(params, &set, unit_of_row, [&](ActivationCapture& c) { return losses(&c); }, st, gen);
  }

  at::Tensor flat_grads() {
    std::vector<at::Tensor> g;
    for (const at::Tensor& p : params) g.push_back(p.grad().flatten().clone());
    return torch::cat(g);
  }
};

double norm_of(const std::vector<at::Tensor>& g, size_t first, size_t last) {
  double n = 0;
  for (size_t k = first; k < last; ++k) n += g[k].pow(2).sum().item<double>();
  return std::sqrt(n);
}

void check_grads(const Setup& s, const std::vector<at::Tensor>& want) {
  REQUIRE(s.params.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    const double scale = want[k].abs().max().item<double>();
    INFO("parameter " << k << " of shape " << want[k].sizes());
    CHECK((s.params[k].grad() - want[k]).abs().max().item<double>() <= 1e-5 * scale);
  }
}

// The flat-clipping definition: sum over units of g_u min(1, C / |g_u|), over `expected`.
std::vector<at::Tensor> flat_reference(const std::vector<std::vector<at::Tensor>>& per_unit, double C, double expected) {
  std::vector<at::Tensor> want;
  for (size_t k = 0; k < per_unit[0].size(); ++k) {
    at::Tensor sum = torch::zeros_like(per_unit[0][k]);
    for (const auto& g : per_unit) sum += g[k] * std::min(1.0, C / (norm_of(g, 0, g.size()) + 1e-6));
    want.push_back(sum / expected);
  }
  return want;
}

// A threshold with half the units above it.
double median_norm(const std::vector<std::vector<at::Tensor>>& per_unit) {
  std::vector<double> norms;
  for (const auto& g : per_unit) norms.push_back(norm_of(g, 0, g.size()));
  std::sort(norms.begin(), norms.end());
  return norms.size() == 2 ? (norms[0] + norms[1]) / 2 : (norms[1] + norms[2]) / 2;
}

}  // namespace

TEST_CASE("dp-sgd: ghost clipping gives the sum of per-example clipped gradients over the expected batch",
          "[privacy]") {
  Setup s;
  const std::vector<int64_t> records = {0, 1, 2, 3};
  const auto per_unit = s.per_unit_grads(records);
  const double C = median_norm(per_unit);  // two examples clipped, two not
  DpSgdStep step;
  step.max_grad_norm = C;
  step.expected_batch = 3.5;
  const DpSgdStats stats = s.step(records, step);
  CHECK(stats.examples == 4);
  CHECK(stats.units == 4);
  CHECK(stats.clipped == 2);
  check_grads(s, flat_reference(per_unit, C, 3.5));
}

TEST_CASE("dp-sgd: owner-level units clip the sum of each owner's gradients", "[privacy]") {
  Setup s;
  const std::vector<int64_t> owners = {1, 0, 1, 0};  // rows 0 and 2 are one owner's, 1 and 3 another's
  const auto per_unit = s.per_unit_grads(owners);
  const double C = median_norm(per_unit);
  DpSgdStep step;
  step.max_grad_norm = C;
  step.expected_batch = 2.0;
  const DpSgdStats stats = s.step(owners, step);
  CHECK(stats.units == 2);
  CHECK(stats.examples == 4);
  CHECK(stats.clipped == 1);
  check_grads(s, flat_reference(per_unit, C, 2.0));
}

TEST_CASE("dp-sgd: per-layer clipping bounds each layer's gradient by C / sqrt(layers)", "[privacy]") {
  Setup s;
  const std::vector<int64_t> records = {0, 1, 2, 3};
  const auto per_unit = s.per_unit_grads(records);
  // Layers: 4 adapters (A and B each), then the head.
  std::vector<std::pair<size_t, size_t>> layers = {{0, 2}, {2, 4}, {4, 6}, {6, 8}, {8, 9}};
  REQUIRE(s.params.size() == 9);
  const double C = 0.5 * median_norm(per_unit), Ck = C / std::sqrt(5.0);
  std::vector<at::Tensor> want;
  for (size_t k = 0; k < s.params.size(); ++k) want.push_back(torch::zeros_like(s.params[k]));
  for (const auto& g : per_unit) {
    for (const auto& [first, last] : layers) {
      const double f = std::min(1.0, Ck / (norm_of(g, first, last) + 1e-6));
      for (size_t k = first; k < last; ++k) want[k] += g[k] * f;
    }
  }
  for (at::Tensor& w : want) w /= 4.0;
  DpSgdStep step;
  step.max_grad_norm = C;
  step.expected_batch = 4.0;
  step.per_layer = true;
  s.step(records, step);
  check_grads(s, want);
  at::Tensor total = torch::zeros({});
  for (const at::Tensor& p : s.params) total += p.grad().pow(2).sum();
  CHECK(std::sqrt(total.item<double>()) * 4.0 <= 4 * C + 1e-6);  // every unit contributes at most C
}

TEST_CASE("dp-sgd: the noise is N(0, sigma^2 C^2) before the division, the same for the same generator seed",
          "[privacy]") {
  Setup s;
  const std::vector<int64_t> records = {0, 1, 2, 3};
  const auto run = [&](double sigma, uint64_t seed) {
    DpSgdStep step;
    step.max_grad_norm = 0.5;
    step.noise_multiplier = sigma;
    step.expected_batch = 2.0;
    s.step(records, step, seed);
    return s.flat_grads();
  };
  const at::Tensor clean = run(0.0, 1), a = run(3.0, 42), b = run(3.0, 42), c = run(3.0, 43);
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::equal(a, c));
  const double sd = ((a - clean) * 2.0).std().item<double>();  // undo the division
  INFO("noise sd " << sd << " over " << a.numel() << " coordinates");
  CHECK(sd == Approx(3.0 * 0.5).epsilon(0.1));
}

TEST_CASE("dp-sgd: an empty Poisson batch gives noise alone, without a forward pass", "[privacy]") {
  Setup s;
  DpSgdStep step;
  step.max_grad_norm = 1.0;
  step.noise_multiplier = 2.0;
  step.expected_batch = 4.0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  bool called = false;
  const DpSgdStats stats = dp_sgd_gradients(s.params, &s.set, {}, [&](ActivationCapture&) {
    called = true;
    return torch::zeros({0});
  }, step, gen);
  CHECK_FALSE(called);
  CHECK(stats.examples == 0);
  const at::Tensor g = s.flat_grads() * 4.0;
  CHECK(g.std().item<double>() == Approx(2.0).epsilon(0.15));
}

TEST_CASE("dp-sgd: refuses a trained tensor outside every captured layer, and C <= 0", "[privacy]") {
  Setup s;
  const std::vector<int64_t> records = {0, 1, 2, 3};
  std::vector<at::Tensor> params = s.params;
  params.push_back(s.weights.at("model.norm.weight").clone().set_requires_grad(true));  // never used
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  DpSgdStep step;
  CHECK_THROWS_AS(dp_sgd_gradients(params, &s.set, records, [&](ActivationCapture& c) { return s.losses(&c); },
                                   step, gen), Error);
  step.max_grad_norm = 0;
  CHECK_THROWS_AS(s.step(records, step), Error);
}

TEST_CASE("dp-sgd: full-parameter training of every Linear (weights and biases), without adapters", "[privacy]") {
  const ModelSpec spec = test::tiny_mlp(5, 3);
  Weights w = init_weights(spec, 4);
  std::vector<at::Tensor> params;
  for (const LinearInfo& l : linear_layers(spec)) {
    for (const std::string suffix : {".weight", ".bias"}) {
      const auto it = w.find(l.name + suffix);
      if (it == w.end()) continue;
      it->second = it->second.clone().set_requires_grad(true);
      params.push_back(it->second);
    }
  }
  REQUIRE(params.size() >= 5);  // fc1, fc2 (weights and biases) of each block, and the head
  ModelInput in;
  torch::manual_seed(3);
  in.features = torch::randn({5, 5});
  const at::Tensor projection = torch::randn({5, 3});
  const auto losses = [&](ActivationCapture* c) {
    ForwardOptions o;
    o.capture = c;
    return (forward(spec, w, in, o).logits * projection).sum(1);
  };
  // The definition, per example.
  const at::Tensor l = losses(nullptr);
  std::vector<std::vector<at::Tensor>> per_example;
  for (int64_t i = 0; i < 5; ++i) {
    for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();
    l[i].backward({}, /*retain_graph=*/true);
    std::vector<at::Tensor> g;
    for (const at::Tensor& p : params) g.push_back(p.grad().clone());
    per_example.push_back(g);
  }
  const double C = median_norm(per_example);
  DpSgdStep step;
  step.max_grad_norm = C;
  step.expected_batch = 5.0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const DpSgdStats stats = dp_sgd_gradients(params, nullptr, {0, 1, 2, 3, 4}, [&](ActivationCapture& c) { return losses(&c); },
                                            step, gen);
  CHECK(stats.clipped >= 2);
  const auto want = flat_reference(per_example, C, 5.0);
  for (size_t k = 0; k < params.size(); ++k) {
    const double scale = want[k].abs().max().item<double>();
    CHECK((params[k].grad() - want[k]).abs().max().item<double>() <= 1e-5 * scale);
  }
}
