#include "src/privacy/dp_sgd.h"

#include <torch/torch.h>

#include <cmath>
#include <set>

#include "src/common/error.h"
#include "src/privacy/ghost_norms.h"

namespace lethe {

namespace {

// A trained layer of the step: an adapter (both matrices trained) or a Linear whose weight
// and/or bias is trained.
struct Layer {
  std::string name;
  at::Tensor input;   // adapter: what entered A
  at::Tensor output;  // whose gradient the backward pass gives
  const LoraAdapter* adapter = nullptr;
  double scaling = 0;
  at::Tensor weight, bias;  // Linear: the trained ones (undefined otherwise)

  std::vector<at::Tensor> params() const {
    if (adapter != nullptr) return {adapter->A, adapter->B};
    std::vector<at::Tensor> out;
    if (weight.defined()) out.push_back(weight);
    if (bias.defined()) out.push_back(bias);
    return out;
  }
};

std::vector<Layer> trained_layers(const ActivationCapture& capture, const LoraSet* lora) {
  std::vector<Layer> layers;
  std::set<std::string> seen;
  const auto add = [&](Layer l) {
    if (!seen.insert(l.name).second) {
      // A layer applied twice would need the cross terms of its two uses in its norm.
      fail(ErrorKind::kInternal, "DP-SGD: layer '{}' was captured twice in one forward pass", l.name);
    }
    layers.push_back(std::move(l));
  };
  for (const AdapterActivation& x : capture.adapters) {
    if (lora == nullptr) fail(ErrorKind::kInternal, "DP-SGD: adapter '{}' captured without its LoRA set", x.name);
    Layer l;
    l.name = "lora:" + x.name;
    l.input = x.entered_a.detach();
    l.output = x.output;
    l.adapter = &lora->adapters.at(x.name);
    l.scaling = lora->scaling;
    add(std::move(l));
  }
  for (const LinearActivation& x : capture.linears) {
    Layer l;
    l.name = x.name;
    l.input = x.input.detach();
    l.output = x.output;
    if (x.weight.requires_grad()) l.weight = x.weight;
    if (x.bias.defined() && x.bias.requires_grad()) l.bias = x.bias;
    add(std::move(l));
  }
  return layers;
}

// [B, T, F]: a single position becomes T = 1.
at::Tensor as_sequence(const at::Tensor& x) { return x.dim() == 2 ? x.unsqueeze(1) : x; }

// Squared gradient norm of `l` per row of (a, g).
at::Tensor rows_sq_norms(const Layer& l, const at::Tensor& a, const at::Tensor& g) {
  if (l.adapter != nullptr) return lora_sq_norms(a, g, l.adapter->A.detach(), l.adapter->B.detach(), l.scaling);
  at::Tensor sq = torch::zeros({a.size(0)}, g.options());
  if (l.weight.defined()) sq = sq + linear_weight_sq_norms(a, g);
  if (l.bias.defined()) sq = sq + linear_bias_sq_norms(g);
  return sq;
}

// The rows of each privacy unit; `identity` when every row is its own unit.
struct Units {
  int64_t count = 0;
  bool identity = true;
  std::vector<at::Tensor> rows;  // per unit, int64 row indices (only when !identity)
};

Units units_of(const std::vector<int64_t>& unit_of_row, c10::Device device) {
  Units u;
  for (size_t i = 0; i < unit_of_row.size(); ++i) {
    const int64_t k = unit_of_row[i];
    if (k < 0) fail(ErrorKind::kInternal, "DP-SGD: row {} has unit {}", i, k);
    u.count = std::max(u.count, k + 1);
    u.identity = u.identity && k == static_cast<int64_t>(i);
  }
  if (u.identity) return u;
  std::vector<std::vector<int64_t>> rows(static_cast<size_t>(u.count));
  for (size_t i = 0; i < unit_of_row.size(); ++i) rows[static_cast<size_t>(unit_of_row[i])].push_back(static_cast<int64_t>(i));
  for (size_t k = 0; k < rows.size(); ++k) {
    if (rows[k].empty()) fail(ErrorKind::kInternal, "DP-SGD: unit {} has no row", k);
    u.rows.push_back(torch::tensor(rows[k], torch::kInt64).to(device));
  }
  return u;
}

// Per unit: the squared norm of the layer's gradient summed over the unit's rows, which is the
// norm of one example made of all those rows' positions.
at::Tensor unit_sq_norms(const Layer& l, const at::Tensor& g, const Units& units) {
  if (units.identity) return rows_sq_norms(l, l.input, g).to(torch::kFloat64);
  const at::Tensor a = as_sequence(l.input), gs = as_sequence(g);
  std::vector<at::Tensor> out;
  for (const at::Tensor& rows : units.rows) {
    out.push_back(rows_sq_norms(l, a.index_select(0, rows).reshape({1, -1, a.size(2)}),
                                gs.index_select(0, rows).reshape({1, -1, gs.size(2)})));
  }
  return torch::cat(out).to(torch::kFloat64);
}

// Adds the layer's gradient with row i weighted by f[i] to its parameters' .grad:
// sum_i f_i sum_t g_it a_it^T, formed as one matrix product over all positions.
void add_weighted_grads(const Layer& l, const at::Tensor& g, const at::Tensor& f) {
  const at::Tensor gs = (as_sequence(g) * f.view({-1, 1, 1})).reshape({-1, g.size(-1)});  // [N, out]
  const at::Tensor a = as_sequence(l.input).reshape({-1, l.input.size(-1)});               // [N, in]
  if (l.adapter != nullptr) {
    const at::Tensor& A = l.adapter->A;
    const at::Tensor& B = l.adapter->B;
    const at::Tensor h = a.mm(A.detach().t());                                      // A a: [N, r]
    A.mutable_grad().add_(gs.mm(B.detach()).t().mm(a) * l.scaling);  // s sum (B^T g) a^T
    B.mutable_grad().add_(gs.t().mm(h) * l.scaling);                 // s sum g (A a)^T
    return;
  }
  if (l.weight.defined()) l.weight.mutable_grad().add_(gs.t().mm(a));
  if (l.bias.defined()) l.bias.mutable_grad().add_(gs.sum(0));
}

}  // namespace

DpSgdStats dp_clipped_sum(const std::vector<at::Tensor>& trainable, const LoraSet* lora,
                          const std::vector<int64_t>& unit_of_row,
                          const std::function<at::Tensor(ActivationCapture&)>& per_example_loss,
                          const DpSgdStep& step) {
  if (!(step.max_grad_norm > 0)) fail(ErrorKind::kUsage, "max_grad_norm {}: expected a positive number", step.max_grad_norm);
  for (const at::Tensor& p : trainable) {
    at::Tensor& g = p.mutable_grad();
    g = torch::zeros_like(p);
  }
  // Where the trained tensors live: every tensor made here goes there too. The noise is drawn
  // on the CPU from `generator` whatever the device, so a node's noise depends on its secret
  // seed alone.
  const c10::Device device = trainable.empty() ? c10::Device(c10::kCPU) : trainable.front().device();
  DpSgdStats stats;
  stats.examples = static_cast<int64_t>(unit_of_row.size());
  if (!unit_of_row.empty()) {
    const Units units = units_of(unit_of_row, device);
    stats.units = units.count;
    ActivationCapture capture;
    const at::Tensor losses = per_example_loss(capture);
    if (losses.dim() != 1 || losses.size(0) != stats.examples) {
      fail(ErrorKind::kInternal, "DP-SGD: {} losses for {} rows", losses.numel(), stats.examples);
    }
    stats.loss_sum = losses.detach().sum().item<double>();
    const std::vector<Layer> layers = trained_layers(capture, lora);
    std::set<const void*> covered;
    for (const Layer& l : layers) {
      for (const at::Tensor& p : l.params()) covered.insert(p.unsafeGetTensorImpl());
    }
    for (const at::Tensor& p : trainable) {
      if (!covered.count(p.unsafeGetTensorImpl())) {
        fail(ErrorKind::kInternal, "DP-SGD: a trained tensor of shape {} is in no captured layer; its gradient "
             "would be neither clipped nor noised", fmt::join(p.sizes(), " x "));
      }
    }

    // The one backward pass: gradients of the layers' outputs only.
    std::vector<at::Tensor> outputs;
    for (const Layer& l : layers) outputs.push_back(l.output);
    std::vector<at::Tensor> grads = torch::autograd::grad({losses.sum()}, outputs, {}, /*retain_graph=*/false,
                                                          /*create_graph=*/false, /*allow_unused=*/true);
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < grads.size(); ++k) {
      if (!grads[k].defined()) grads[k] = torch::zeros_like(outputs[k]);
    }
    std::vector<at::Tensor> sq;  // per layer, [units]
    for (size_t k = 0; k < layers.size(); ++k) sq.push_back(unit_sq_norms(layers[k], grads[k], units));

    const at::Tensor rows = torch::tensor(unit_of_row, torch::kInt64).to(device);
    const double C = step.max_grad_norm;
    if (step.per_layer) {
      const double Ck = C / std::sqrt(static_cast<double>(std::max<size_t>(1, layers.size())));
      at::Tensor over = torch::zeros({units.count}, torch::TensorOptions(torch::kBool).device(device));
      for (size_t k = 0; k < layers.size(); ++k) {
        const at::Tensor norm = sq[k].sqrt();
        over = over | (norm > Ck);
        const at::Tensor f = (Ck / (norm + 1e-6)).clamp_max(1.0);
        add_weighted_grads(layers[k], grads[k], f.index_select(0, rows).to(grads[k].scalar_type()));
      }
      stats.clipped = over.sum().item<int64_t>();
    } else {
      at::Tensor total = torch::zeros({units.count}, torch::TensorOptions(torch::kFloat64).device(device));
      for (const at::Tensor& s : sq) total += s;
      const at::Tensor norm = total.sqrt();
      const at::Tensor f = (C / (norm + 1e-6)).clamp_max(1.0).index_select(0, rows);
      for (size_t k = 0; k < layers.size(); ++k) add_weighted_grads(layers[k], grads[k], f.to(grads[k].scalar_type()));
      stats.clipped = (norm > C).sum().item<int64_t>();
    }
  }

  return stats;
}

void dp_noise_and_scale(const std::vector<at::Tensor>& trainable, const DpSgdStep& step, at::Generator& generator) {
  if (!(step.expected_batch > 0)) fail(ErrorKind::kInternal, "DP-SGD: expected batch {}", step.expected_batch);
  // Noise once per step, then the division by the expected batch size.
  torch::NoGradGuard no_grad;
  for (const at::Tensor& p : trainable) {
    at::Tensor& g = p.mutable_grad();
    if (step.noise_multiplier > 0) {
      g.add_(at::normal(0.0, step.noise_multiplier * step.max_grad_norm, g.sizes(), generator).to(g.device(), g.scalar_type()));
    }
    g.div_(step.expected_batch);
  }
}

DpSgdStats dp_sgd_gradients(const std::vector<at::Tensor>& trainable, const LoraSet* lora,
                            const std::vector<int64_t>& unit_of_row,
                            const std::function<at::Tensor(ActivationCapture&)>& per_example_loss,
                            const DpSgdStep& step, at::Generator& generator) {
  if (!(step.expected_batch > 0)) fail(ErrorKind::kInternal, "DP-SGD: expected batch {}", step.expected_batch);
  const DpSgdStats stats = dp_clipped_sum(trainable, lora, unit_of_row, per_example_loss, step);
  dp_noise_and_scale(trainable, step, generator);
  return stats;
}

}  // namespace lethe
