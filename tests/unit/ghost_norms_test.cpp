// Ghost norms against the naive reference: one backward pass per example, its gradient formed
// and measured. Agreement to 1e-5 relative (issue 8), in float32 as training runs, on both
// paths (Gram matrices when T^2 <= in x out, per-example gradients otherwise), for Linear
// weights, biases and LoRA adapters.
#include "tests/support/catch_torch.h"

#include <torch/torch.h>

#include "peft/lora.h"
#include "src/models/model.h"
#include "src/privacy/ghost_norms.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

// The per-example squared gradient norms of `params` for loss_i = sum(f(a_i) * g_i).
template <typename F>
at::Tensor naive_sq_norms(const at::Tensor& a, const at::Tensor& g, std::vector<at::Tensor> params, F&& f) {
  std::vector<double> out;
  for (int64_t i = 0; i < a.size(0); ++i) {
    for (at::Tensor& p : params) p = p.detach().clone().requires_grad_(true);
    const at::Tensor y = f(a[i], params);
    (y * g[i]).sum().backward();
    double n = 0;
    for (const at::Tensor& p : params) n += p.grad().pow(2).sum().item<double>();
    out.push_back(n);
  }
  return torch::tensor(out, torch::kFloat64);
}

void check_close(const at::Tensor& got, const at::Tensor& want) {
  REQUIRE(got.sizes() == want.sizes());
  const at::Tensor rel = (got.to(torch::kFloat64) - want).abs() / want.abs().clamp_min(1e-30);
  INFO("got " << got << " want " << want);
  CHECK(rel.max().item<double>() < 1e-5);
}

}  // namespace

TEST_CASE("ghost norms: Linear weight and bias norms equal the per-example gradients' on both paths", "[privacy]") {
  torch::manual_seed(7);
  // (batch, positions, in, out): Gram path (T^2 <= in x out), direct path, one position, 2-D input.
  for (const auto& [b, t, in, out] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {5, 8, 32, 48}, {4, 16, 3, 5}, {6, 1, 20, 10}}) {
    INFO("B " << b << " T " << t << " in " << in << " out " << out);
    const at::Tensor a = torch::randn({b, t, in}), g = torch::randn({b, t, out});
    const at::Tensor W = torch::randn({out, in}), bias = torch::randn({out});
    const auto linear = [](const at::Tensor& x, const std::vector<at::Tensor>& p) { return torch::matmul(x, p[0].t()) + p[1]; };
    const at::Tensor want = naive_sq_norms(a, g, {W, bias}, linear);
    check_close(linear_weight_sq_norms(a, g) + linear_bias_sq_norms(g), want);
  }
  const at::Tensor a = torch::randn({3, 7}), g = torch::randn({3, 4});
  const at::Tensor want = naive_sq_norms(a, g, {torch::randn({4, 7})},
                                         [](const at::Tensor& x, const std::vector<at::Tensor>& p) { return torch::matmul(x, p[0].t()); });
  check_close(linear_weight_sq_norms(a, g), want);
}

TEST_CASE("ghost norms: LoRA adapters' norms (A and B together) equal the per-example gradients'", "[privacy]") {
  torch::manual_seed(11);
  for (const auto& [t, in, out, r] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {12, 64, 64, 8}, {1, 32, 16, 4}, {40, 6, 6, 2}}) {
    INFO("T " << t << " in " << in << " out " << out << " r " << r);
    const at::Tensor a = torch::randn({5, t, in}), g = torch::randn({5, t, out});
    const at::Tensor A = torch::randn({r, in}) / 8, B = torch::randn({out, r});
    const double s = 16.0 / static_cast<double>(r);
    const auto lora = [s](const at::Tensor& x, const std::vector<at::Tensor>& p) {
      return torch::matmul(torch::matmul(x, p[0].t()), p[1].t()) * s;
    };
    check_close(lora_sq_norms(a, g, A, B, s), naive_sq_norms(a, g, {A, B}, lora));
  }
}

TEST_CASE("ghost norms: a real model's captured adapter activations give its per-example gradient norms",
          "[privacy]") {
  // In float64: both sides sum many float32 products in different orders, and 1e-5 relative
  // would then hang on how the BLAS split the work.
  const ModelSpec s = test::tiny_llama(4, 6);
  Weights w = init_weights(s, 1);
  for (auto& [name, t] : w) t = t.to(torch::kFloat64);
  LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.target_modules = {"q_proj", "v_proj"};
  LoraSet set = make_lora_set(linear_layers(s), c, s.num_layers, 2, 3);
  {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    torch::NoGradGuard no_grad;
    for (auto& [name, a] : set.adapters) {
      a.B.normal_(0.0, 0.5, gen);
      a.A = a.A.to(torch::kFloat64);
      a.B = a.B.to(torch::kFloat64);
    }
  }
  const std::vector<at::Tensor> params = set_trainable_groups(set, {0});
  ModelInput in;
  in.tokens = torch::tensor({1, 5, 7, 2, 9, 3, 4, 4, 8, 0, 0, 0, 6, 6, 1, 2, 0, 0}, torch::kInt64).view({3, 6});
  in.lengths = torch::tensor({6, 3, 4}, torch::kInt64);
  ActivationCapture capture;
  ForwardOptions o;
  o.lora = &set;
  o.capture = &capture;
  const at::Tensor logits = forward(s, w, in, o).logits;
  auto pgen = at::make_generator<at::CPUGeneratorImpl>(9);
  const at::Tensor per_example = (logits * torch::randn(logits.sizes(), pgen, torch::kFloat64)).flatten(1).sum(1);  // L_i
  REQUIRE(capture.adapters.size() == 4);  // q and v of the two top blocks (group 0)

  // Ghost: the gradients of the captured outputs (one backward pass of the sum), then norms
  // from the captured activations alone.
  std::vector<at::Tensor> outputs;
  for (const AdapterActivation& x : capture.adapters) outputs.push_back(x.output);
  const auto grads = torch::autograd::grad({per_example.sum()}, outputs, {}, /*retain_graph=*/true);
  at::Tensor got = torch::zeros({per_example.size(0)}, torch::kFloat64);
  for (size_t k = 0; k < capture.adapters.size(); ++k) {
    const AdapterActivation& x = capture.adapters[k];
    const LoraAdapter& a = set.adapters.at(x.name);
    got += lora_sq_norms(x.entered_a, grads[k], a.A.detach(), a.B.detach(), set.scaling).to(torch::kFloat64);
  }
  // The reference: each example's loss alone, its gradient formed and measured.
  std::vector<double> want;
  for (int64_t i = 0; i < per_example.size(0); ++i) {
    for (const at::Tensor& p : params) p.mutable_grad() = at::Tensor();
    per_example[i].backward({}, /*retain_graph=*/true);
    double n = 0;
    for (const at::Tensor& p : params) n += p.grad().pow(2).sum().item<double>();
    want.push_back(n);
  }
  check_close(got, torch::tensor(want, torch::kFloat64));
}
