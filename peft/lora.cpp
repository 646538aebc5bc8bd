#include "peft/lora.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "src/common/error.h"

namespace lethe {

namespace {

bool matches(const std::string& name, const std::string& target) {
  if (name == target) return true;
  return name.size() > target.size() + 1 &&
         name.compare(name.size() - target.size(), target.size(), target) == 0 &&
         name[name.size() - target.size() - 1] == '.';
}

}  // namespace

std::vector<const LinearInfo*> match_target_modules(const std::vector<LinearInfo>& linears,
                                                    const std::vector<std::string>& targets) {
  if (targets.empty()) fail(ErrorKind::kUsage, "lora.target_modules is empty");
  std::vector<const LinearInfo*> out;
  for (const auto& target : targets) {
    size_t hits = 0;
    for (const auto& l : linears) {
      if (l.layer < 0) continue;  // adapters live in the blocks, where the groups are
      if (target == "all-linear" || matches(l.name, target)) ++hits;
    }
    if (hits == 0) {
      std::string names;
      for (const auto& l : linears) {
        // The part after the block index ("self_attn.q_proj", "attention.output.dense"): BERT's
        // last components repeat ("dense"), and any suffix is a valid entry.
        const size_t at = l.name.find(".0.");
        if (l.layer == 0) names += (names.empty() ? "" : ", ") + l.name.substr(at == std::string::npos ? 0 : at + 3);
      }
      fail(ErrorKind::kUsage, "lora.target_modules: '{}' matches no Linear layer of this model "
           "(the blocks have: {})", target, names);
    }
  }
  for (const auto& l : linears) {
    if (l.layer < 0) continue;
    for (const auto& target : targets) {
      if (target == "all-linear" || matches(l.name, target)) {
        out.push_back(&l);
        break;
      }
    }
  }
  return out;
}

int group_of_layer(int layer, int num_layers, int num_groups) {
  if (num_groups <= 0 || num_layers <= 0 || num_layers % num_groups != 0) {
    fail(ErrorKind::kUsage, "the model's {} blocks cannot form {} equal LoRA groups (one per "
         "slice): set model.num_layers to a multiple of plan.slices", num_layers, num_groups);
  }
  const int per_group = num_layers / num_groups;
  return (num_layers - 1 - layer) / per_group;  // top blocks first
}

double lora_scaling(const LoraConfig& c) {
  const double r = static_cast<double>(c.r);
  return c.use_rslora ? c.lora_alpha / std::sqrt(r) : c.lora_alpha / r;
}

LoraSet make_lora_set(const std::vector<LinearInfo>& linears, const LoraConfig& config,
                      int num_layers, int num_groups, uint64_t seed) {
  LoraSet set;
  set.config = config;
  set.scaling = lora_scaling(config);
  set.num_groups = num_groups;
  set.num_layers = num_layers;
  set.enabled.assign(static_cast<size_t>(num_groups), true);
  group_of_layer(0, num_layers, num_groups);  // validates the partition
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  // Adapters are created in name order, so each one's draw depends only on the seed and the
  // model's layer names, never on the order of target_modules.
  std::vector<const LinearInfo*> targets = match_target_modules(linears, config.target_modules);
  std::sort(targets.begin(), targets.end(),
            [](const LinearInfo* a, const LinearInfo* b) { return a->name < b->name; });
  for (const LinearInfo* l : targets) {
    LoraAdapter a;
    a.group = group_of_layer(l->layer, num_layers, num_groups);
    const double bound = 1.0 / std::sqrt(static_cast<double>(l->in_features));
    a.A = torch::empty({config.r, l->in_features}).uniform_(-bound, bound, gen);
    a.B = torch::zeros({l->out_features, config.r});
    set.adapters.emplace(l->name, std::move(a));
  }
  return set;
}

std::optional<at::Tensor> lora_delta(const LoraSet& set, const std::string& name,
                                     const at::Tensor& x, bool training,
                                     std::optional<at::Generator> generator, at::Tensor* entered_a) {
  if (set.merged) return std::nullopt;
  const auto it = set.adapters.find(name);
  if (it == set.adapters.end()) return std::nullopt;
  const LoraAdapter& a = it->second;
  if (!set.enabled[static_cast<size_t>(a.group)]) return std::nullopt;
  at::Tensor in = x;
  const double p = set.config.lora_dropout;
  if (training && p > 0) {
    // Inverted dropout with an explicit generator (torch::dropout would use the global one).
    const at::Tensor keep = torch::empty_like(x).bernoulli_(1.0 - p, generator);
    in = x * keep / (1.0 - p);
  }
  if (entered_a != nullptr) *entered_a = in;
  return torch::matmul(torch::matmul(in, a.A.t()), a.B.t()) * set.scaling;
}

void move_lora(LoraSet& set, c10::Device device) {
  for (auto& [name, a] : set.adapters) {
    a.A = a.A.to(device);
    a.B = a.B.to(device);
  }
}

std::vector<at::Tensor> set_trainable_groups(LoraSet& set, const std::vector<int>& groups) {
  std::vector<at::Tensor> params;
  for (auto& [name, a] : set.adapters) {
    const bool on = std::find(groups.begin(), groups.end(), a.group) != groups.end();
    a.A.set_requires_grad(on);
    a.B.set_requires_grad(on);
    if (on) {
      params.push_back(a.A);
      params.push_back(a.B);
    }
  }
  return params;
}

namespace {

void fold(std::map<std::string, at::Tensor>& weights, const LoraSet& set, double sign) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, a] : set.adapters) {
    if (!set.enabled[static_cast<size_t>(a.group)]) continue;
    const auto w = weights.find(name + ".weight");
    if (w == weights.end()) fail(ErrorKind::kInternal, "no base weight '{}.weight' to merge into", name);
    // Computed in float64 and rounded once, so that unmerge lands back within rounding of W.
    const at::Tensor delta = torch::matmul(a.B.to(torch::kFloat64), a.A.to(torch::kFloat64)) * set.scaling;
    w->second.copy_((w->second.to(torch::kFloat64) + sign * delta).to(w->second.scalar_type()));
  }
}

}  // namespace

void merge_lora(std::map<std::string, at::Tensor>& weights, LoraSet& set) {
  if (set.merged) fail(ErrorKind::kInternal, "LoRA adapters are already merged");
  fold(weights, set, 1.0);
  set.merged = true;
}

void unmerge_lora(std::map<std::string, at::Tensor>& weights, LoraSet& set) {
  if (!set.merged) fail(ErrorKind::kInternal, "LoRA adapters are not merged");
  fold(weights, set, -1.0);
  set.merged = false;
}

}  // namespace lethe
