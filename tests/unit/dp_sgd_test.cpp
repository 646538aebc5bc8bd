// The DP-SGD step with ghost clipping against its definition: each example's gradient formed
// (one backward pass per example), clipped to C, summed, divided by the expected batch size.
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

  Setup() {
    LoraConfig c;
    c.r = 4;
    c.lora_alpha = 8;
    c.target_modules = {"q_proj", "v_proj"};
    set = make_lora_set(linear_layers(spec), c, spec.num_layers, 2, 3);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, a] : set.adapters) a.B.normal_(0.0, 0.5, gen);
    }
    set_trainable_groups(set, {0});
    input.tokens = torch::tensor({1, 5, 7, 2, 9, 3, 4, 4, 8, 0, 0, 0, 6, 6, 1, 2, 0, 0, 3, 3, 3, 3, 3, 3},
                                 torch::kInt64).view({4, 6});
    input.lengths = torch::tensor({6, 3, 4, 6}, torch::kInt64);
    torch::manual_seed(9);
    projection = torch::randn(forward(spec, weights, input).logits.sizes());
  }

  at::Tensor losses(ActivationCapture* capture) {
    ForwardOptions o;
    o.lora = &set;
    o.capture = capture;
    return (forward(spec, weights, input, o).logits * projection).flatten(1).sum(1);
  }

  std::vector<at::Tensor> params() {
    std::vector<at::Tensor> out;
    for (auto& [name, a] : set.adapters) {
      if (a.A.requires_grad()) out.insert(out.end(), {a.A, a.B});
    }
    return out;
  }

  // Per example: its gradients (one per parameter).
  std::vector<std::vector<at::Tensor>> per_example_grads() {
    const at::Tensor l = losses(nullptr);
    std::vector<std::vector<at::Tensor>> out;
    for (int64_t i = 0; i < l.size(0); ++i) {
      for (at::Tensor p : params()) p.mutable_grad() = at::Tensor();
      l[i].backward({}, /*retain_graph=*/true);
      std::vector<at::Tensor> g;
      for (const at::Tensor& p : params()) g.push_back(p.grad().clone());
      out.push_back(g);
    }
    return out;
  }
};

double norm_of(const std::vector<at::Tensor>& g) {
  double n = 0;
  for (const at::Tensor& t : g) n += t.pow(2).sum().item<double>();
  return std::sqrt(n);
}

}  // namespace

TEST_CASE("dp-sgd: ghost clipping gives the sum of per-example clipped gradients over the expected batch",
          "[privacy]") {
  Setup s;
  const auto per_example = s.per_example_grads();
  std::vector<double> norms;
  for (const auto& g : per_example) norms.push_back(norm_of(g));
  std::vector<double> sorted = norms;
  std::sort(sorted.begin(), sorted.end());
  const double C = (sorted[1] + sorted[2]) / 2;  // two examples clipped, two not
  // The definition.
  std::vector<at::Tensor> want;
  for (size_t k = 0; k < per_example[0].size(); ++k) {
    at::Tensor sum = torch::zeros_like(per_example[0][k]);
    for (size_t i = 0; i < per_example.size(); ++i) sum += per_example[i][k] * std::min(1.0, C / (norms[i] + 1e-6));
    want.push_back(sum / 3.5);
  }
  DpSgdStep step;
  step.max_grad_norm = C;
  step.expected_batch = 3.5;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const DpSgdStats stats = dp_sgd_gradients(s.set, [&](ActivationCapture& c) { return s.losses(&c); }, step, gen);
  CHECK(stats.examples == 4);
  CHECK(stats.clipped == 2);
  const auto params = s.params();
  REQUIRE(params.size() == want.size());
  for (size_t k = 0; k < params.size(); ++k) {
    const double scale = want[k].abs().max().item<double>();
    CHECK((params[k].grad() - want[k]).abs().max().item<double>() <= 1e-5 * scale);
  }
}

TEST_CASE("dp-sgd: the noise is N(0, sigma^2 C^2) before the division, the same for the same generator seed",
          "[privacy]") {
  Setup s;
  const auto run = [&](double sigma, uint64_t seed) {
    DpSgdStep step;
    step.max_grad_norm = 0.5;
    step.noise_multiplier = sigma;
    step.expected_batch = 2.0;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    dp_sgd_gradients(s.set, [&](ActivationCapture& c) { return s.losses(&c); }, step, gen);
    std::vector<at::Tensor> g;
    for (const at::Tensor& p : s.params()) g.push_back(p.grad().flatten().clone());
    return torch::cat(g);
  };
  const at::Tensor clean = run(0.0, 1), a = run(3.0, 42), b = run(3.0, 42), c = run(3.0, 43);
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::equal(a, c));
  const double sd = ((a - clean) * 2.0).std().item<double>();  // undo the division
  INFO("noise sd " << sd << " over " << a.numel() << " coordinates");
  CHECK(sd == Approx(3.0 * 0.5).epsilon(0.1));
  DpSgdStep bad;
  bad.max_grad_norm = 0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  CHECK_THROWS_AS(dp_sgd_gradients(s.set, [&](ActivationCapture& cap) { return s.losses(&cap); }, bad, gen), Error);
}
