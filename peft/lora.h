// LoRA adapters on named Linear layers, with Hugging Face PEFT's options, initialisation and
// scaling, organised in groups: the transformer blocks are split top-down into G contiguous
// groups (group 0 holds the top blocks), the unit S3T trains, freezes and switches per slice.
//
// The adapters never touch the base weights, except through merge_lora / unmerge_lora, which a
// server may use to fold the enabled groups in for inference.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/config/config.h"

namespace lethe {

// One Linear layer's adapter: y += scaling * B (A dropout(x)).
struct LoraAdapter {
  int group = 0;     // 0 = the top group
  at::Tensor A;      // [r, in_features], PEFT's lora_A.weight
  at::Tensor B;      // [out_features, r], PEFT's lora_B.weight
};

struct LoraSet {
  LoraConfig config;
  double scaling = 0;  // lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora
  int num_groups = 0;
  int num_layers = 0;
  std::map<std::string, LoraAdapter> adapters;  // by Linear name, e.g. model.layers.3.self_attn.q_proj
  std::vector<bool> enabled;                    // per group
  bool merged = false;                          // adapters folded into the base weights
};

// A Linear layer of the base model: its name and shape.
struct LinearInfo {
  std::string name;
  int64_t in_features = 0;
  int64_t out_features = 0;
  int layer = -1;  // the block it belongs to (model.layers.N); -1 outside the blocks
};

// PEFT's matching rule for a list of target_modules: a name matches when it equals an entry or
// ends with "." + entry; "all-linear" matches every Linear inside the blocks. An entry that
// matches nothing is ErrorKind::kUsage (PEFT raises too), naming it and the available names.
std::vector<const LinearInfo*> match_target_modules(const std::vector<LinearInfo>& linears,
                                                    const std::vector<std::string>& targets);

// The group (0 = top) of block `layer` when `num_layers` blocks form `num_groups` groups.
// ErrorKind::kUsage unless num_layers is a positive multiple of num_groups.
int group_of_layer(int layer, int num_layers, int num_groups);

double lora_scaling(const LoraConfig& config);

// Adapters for every matching Linear, initialised as PEFT does: A Kaiming-uniform (a = sqrt(5),
// i.e. U(-1/sqrt(in), 1/sqrt(in))), B zero, from a generator seeded with `seed`. All groups
// enabled, none trainable.
LoraSet make_lora_set(const std::vector<LinearInfo>& linears, const LoraConfig& config,
                      int num_layers, int num_groups, uint64_t seed);

// The adapter update for Linear `name` given its input x, or nullopt when the layer has no
// adapter, its group is disabled, or the set is merged. Dropout applies only when `training`,
// drawing from `generator` so that training stays reproducible.
// `entered_a`, when given, receives what entered A (x after dropout): DP-SGD's ghost clipping
// needs it (src/privacy/ghost_norms.h).
std::optional<at::Tensor> lora_delta(const LoraSet& set, const std::string& name,
                                     const at::Tensor& x, bool training,
                                     std::optional<at::Generator> generator, at::Tensor* entered_a = nullptr);

// Moves every adapter of `set` to `device` (adapters are made and read on the CPU).
void move_lora(LoraSet& set, c10::Device device);

// Makes exactly the adapters of `groups` require gradients; returns them (A then B, by name).
std::vector<at::Tensor> set_trainable_groups(LoraSet& set, const std::vector<int>& groups);

// Folds the enabled groups into `weights` (W += scaling * B A) and marks the set merged;
// unmerge subtracts the same products. Both ErrorKind::kInternal when already (un)merged.
void merge_lora(std::map<std::string, at::Tensor>& weights, LoraSet& set);
void unmerge_lora(std::map<std::string, at::Tensor>& weights, LoraSet& set);

}  // namespace lethe
