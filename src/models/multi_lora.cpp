#include "src/models/multi_lora.h"

#include <torch/torch.h>

#include "kernels/torch_ops.h"
#include "src/common/error.h"

namespace lethe {

namespace {

void check_rows(const MultiLora& m, const at::Tensor& x, const std::string& name) {
  const int64_t want = static_cast<int64_t>(m.members.size()) * m.rows_per_member;
  if (x.size(0) != want) {
    fail(ErrorKind::kInternal, "{}: {} rows for {} members of {} rows each", name, x.size(0), m.members.size(),
         m.rows_per_member);
  }
}

}  // namespace

ModelInput stack_for_members(const ModelInput& input, size_t members) {
  const auto repeat = [&](const at::Tensor& t) {
    return t.defined() ? torch::cat(std::vector<at::Tensor>(members, t)) : t;
  };
  return {repeat(input.tokens), repeat(input.lengths), repeat(input.images), repeat(input.features)};
}

std::optional<at::Tensor> multi_lora_delta(const MultiLora& m, const std::string& name, const at::Tensor& x) {
  std::vector<kernels::LoraPair> adapters;
  std::vector<int64_t> which;  // per member: its index in `adapters`, or -1 (no update)
  double scaling = 0;
  for (const LoraSet* set : m.members) {
    const auto it = set->adapters.find(name);
    // As lora_delta: no update from a merged set, a layer without an adapter or a disabled group.
    if (set->merged || it == set->adapters.end() || !set->enabled[static_cast<size_t>(it->second.group)]) {
      which.push_back(-1);
      continue;
    }
    if (!adapters.empty() && set->scaling != scaling) {
      fail(ErrorKind::kInternal, "{}: members with LoRA scalings {} and {} cannot share a pass", name, scaling,
           set->scaling);
    }
    scaling = set->scaling;
    which.push_back(static_cast<int64_t>(adapters.size()));
    adapters.push_back({it->second.A, it->second.B});
  }
  if (adapters.empty()) return std::nullopt;
  check_rows(m, x, name);
  const std::vector<int64_t> rows(m.members.size(), m.rows_per_member);
  return kernels::multi_lora(x, kernels::lora_segments(rows, which), adapters, scaling);
}

std::optional<at::Tensor> member_linear(const MultiLora& m, const std::string& name, const at::Tensor& x,
                                        const at::Tensor& bias) {
  const auto it = m.member_weights.find(name);
  if (it == m.member_weights.end()) return std::nullopt;
  check_rows(m, x, name);
  std::vector<at::Tensor> parts;
  for (size_t s = 0; s < m.members.size(); ++s) {
    const at::Tensor rows = x.narrow(0, static_cast<int64_t>(s) * m.rows_per_member, m.rows_per_member);
    parts.push_back(torch::nn::functional::linear(rows, it->second.at(s), bias));
  }
  return torch::cat(parts);
}

}  // namespace lethe
