// Every member of an ensemble over one batch in one forward pass: the base model runs once over
// the stacked rows of all members, and each adapted Linear adds every member's own LoRA update to
// that member's rows with kernels::multi_lora (the segmented-gather kernel on a GPU, its LibTorch
// path on the CPU; kernels/torch_ops.h). This is how eval and predict run all shards' serving
// prefixes on the shared frozen base (issue 18), instead of one forward pass per shard.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "peft/lora.h"
#include "src/models/model.h"

namespace lethe {

// The batch holds member s's rows at [s * rows_per_member, (s + 1) * rows_per_member).
struct MultiLora {
  std::vector<const LoraSet*> members;
  int64_t rows_per_member = 0;
  // Linears whose weight is each member's own (the classification head "score"), by name.
  std::map<std::string, std::vector<at::Tensor>> member_weights;
};

// `input` once per member, member-major (member s's rows at [s n, (s + 1) n)): the batch a
// MultiLora forward pass takes.
ModelInput stack_for_members(const ModelInput& input, size_t members);

// Every member's LoRA update of Linear `name` on its own rows of x ([members * n, ..., in]),
// zero for members whose serving prefix holds no group with an adapter on it; nullopt when no
// member adapts it. ErrorKind::kInternal when the members' LoRA scalings differ (one config
// makes them all) or x's rows are not members * rows_per_member.
std::optional<at::Tensor> multi_lora_delta(const MultiLora& m, const std::string& name, const at::Tensor& x);

// Linear `name` with each member's own weight on its rows (plus the shared bias, if defined);
// nullopt when `name` has no per-member weight.
std::optional<at::Tensor> member_linear(const MultiLora& m, const std::string& name, const at::Tensor& x,
                                        const at::Tensor& bias);

}  // namespace lethe
