#include "src/privacy/dp_sgd.h"

#include <torch/torch.h>

#include <set>

#include "src/common/error.h"
#include "src/privacy/ghost_norms.h"

namespace lethe {

DpSgdStats dp_sgd_gradients(LoraSet& set, const std::function<at::Tensor(ActivationCapture&)>& per_example_loss,
                            const DpSgdStep& step, at::Generator& generator) {
  if (!(step.max_grad_norm > 0)) fail(ErrorKind::kUsage, "max_grad_norm {}: expected a positive number", step.max_grad_norm);
  std::vector<at::Tensor> params;
  for (auto& [name, a] : set.adapters) {
    if (a.A.requires_grad()) params.insert(params.end(), {a.A, a.B});
  }
  for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();

  ActivationCapture capture;
  const at::Tensor losses = per_example_loss(capture);
  std::set<std::string> captured;
  for (const AdapterActivation& x : capture.adapters) captured.insert(x.name);
  for (const auto& [name, a] : set.adapters) {
    if (a.A.requires_grad() && !captured.count(name)) {
      fail(ErrorKind::kInternal, "DP-SGD: trainable adapter '{}' was not captured in the forward pass", name);
    }
  }

  // Pass 1: per-example gradient norms from the captured activations.
  losses.sum().backward({}, /*retain_graph=*/true);
  at::Tensor sq = torch::zeros({losses.size(0)}, losses.options().dtype(torch::kFloat64));
  for (const AdapterActivation& x : capture.adapters) {
    const LoraAdapter& a = set.adapters.at(x.name);
    sq += lora_sq_norms(x.entered_a.detach(), x.output.grad(), a.A.detach(), a.B.detach(), set.scaling).to(torch::kFloat64);
  }
  const at::Tensor norms = sq.sqrt();
  const at::Tensor factors = (step.max_grad_norm / (norms + 1e-6)).clamp_max(1.0).to(losses.scalar_type());

  // Pass 2: the clipped sum.
  for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();
  (losses * factors.detach()).sum().backward();

  // Noise once per step, then the division by the expected batch size.
  torch::NoGradGuard no_grad;
  for (at::Tensor& p : params) {
    at::Tensor& g = p.mutable_grad();
    if (!g.defined()) g = torch::zeros_like(p);
    if (step.noise_multiplier > 0) {
      g.add_(at::normal(0.0, step.noise_multiplier * step.max_grad_norm, g.sizes(), generator).to(g.scalar_type()));
    }
    g.div_(step.expected_batch);
  }
  DpSgdStats stats;
  stats.examples = losses.size(0);
  stats.clipped = (norms > step.max_grad_norm).sum().item<int64_t>();
  return stats;
}

}  // namespace lethe
