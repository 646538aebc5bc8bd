// The models: a decoder-only transformer with Hugging Face Llama's structure and parameter
// names, a BERT encoder with BertModel's (src/models/bert.h, for imported checkpoints), a small
// ViT over image patches using the Llama blocks, and an MLP for feature vectors.
//
// A model is plain data: a ModelSpec and a name -> tensor map of weights, named as Hugging Face
// names them (model.layers.N.self_attn.q_proj.weight, ...), so that real Llama-family
// checkpoints load without renaming. Forward passes are free functions; every Linear goes
// through one function that adds the LoRA update of its enabled adapter, if any.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "peft/lora.h"
#include "src/models/model_spec.h"

namespace lethe {

using Weights = std::map<std::string, at::Tensor>;

// Model inputs for one batch; which fields are set depends on the architecture.
struct ModelInput {
  at::Tensor tokens;    // llama, bert: int64 [B, T], right-padded
  at::Tensor lengths;   // llama, bert: int64 [B], real tokens per row (>= 1)
  at::Tensor images;    // vit: float [B, S, S] in [0, 1]
  at::Tensor features;  // mlp: float [B, F]
};

struct ModelOutput {
  at::Tensor logits;     // [B, num_labels]
  at::Tensor pooled;     // [B, hidden]: what the classification head reads
  at::Tensor hidden;     // llama, bert: the last hidden states [B, T, hidden]; undefined otherwise
  at::Tensor lm_logits;  // llama with want_lm: [B, T, vocab]; undefined otherwise
};

// How a forward pass runs: the adapters to apply (none = the base alone), whether it trains
// (LoRA dropout on), the generator for dropout, and whether the LM head is wanted.
// What DP-SGD's ghost clipping needs from a forward pass: for every adapter being trained,
// what entered its A (after dropout) and its output; for every Linear whose own weight is
// trained (a classification head, or full-parameter training), its input and its output
// before any adapter is added. Per-example gradient norms and the clipped gradients follow
// from these and the gradients of the outputs alone.
struct AdapterActivation {
  std::string name;
  at::Tensor entered_a;
  at::Tensor output;
};
struct LinearActivation {
  std::string name;
  at::Tensor input;
  at::Tensor output;
  at::Tensor weight;
  at::Tensor bias;  // undefined when the Linear has none
};
struct ActivationCapture {
  std::vector<AdapterActivation> adapters;
  std::vector<LinearActivation> linears;
};

struct MultiLora;  // src/models/multi_lora.h

struct ForwardOptions {
  const LoraSet* lora = nullptr;
  const MultiLora* multi = nullptr;  // several members over one stacked batch, instead of `lora`
  ActivationCapture* capture = nullptr;  // records trained adapters' and Linears' activations when set
  bool training = false;
  std::optional<at::Generator> generator;
  bool want_lm = false;
};

// Fresh weights, initialised as Hugging Face does (normal(0, 0.02) for Linear and embeddings,
// ones for norms) from a generator seeded with `seed`: the same spec and seed give the same bits.
Weights init_weights(const ModelSpec& spec, uint64_t seed);

// One weight of `spec` (e.g. a fresh "score.weight" for an imported base), initialised the same
// way from a generator of its own seeded with `seed`: the same bits for the same spec, name and
// seed, but not the bits init_weights gives that name. Allocates that tensor alone.
at::Tensor init_weight(const ModelSpec& spec, const std::string& name, uint64_t seed);

// The names and shapes every weight must have, in name order.
std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelSpec& spec);

// What keeps `weights` from being exactly the weights of `spec`: each missing name, unexpected
// name and wrong shape, as a phrase ("missing 'x'"). Empty when they match. `filled_later`, when
// not empty, names a weight that may be missing because the caller creates it after the check.
std::vector<std::string> weight_problems(const ModelSpec& spec, const Weights& weights,
                                         const std::string& filled_later = "");

// Every Linear of the model (for LoRA targeting), in name order.
std::vector<LinearInfo> linear_layers(const ModelSpec& spec);

ModelOutput forward(const ModelSpec& spec, const Weights& weights, const ModelInput& input,
                    const ForwardOptions& options = {});

// Forward FLOPs of one example (multiply-adds counted as 2), for throughput reports.
double forward_flops_per_example(const ModelSpec& spec);

}  // namespace lethe
