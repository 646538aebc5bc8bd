// One DP-SGD step's gradient (Abadi et al. 2016) with ghost clipping: each privacy unit's
// gradient is clipped to L2 norm C and the clipped gradients summed, without forming any
// per-unit gradient, then Gaussian noise N(0, sigma^2 C^2) is added once and the sum divided
// by the expected batch size (Poisson sampling makes the batch size random; dividing by its
// expectation keeps the estimate unbiased and the sensitivity C / expected batch).
//
// One backward pass, to the outputs of the trained layers only (the parameters' own gradients
// are never formed by autograd). From each trained layer's captured input a and output
// gradient g, ghost_norms gives every unit's squared gradient norm; the clipped sum is then
// formed directly as sum_i f_i g_i^T a_i, where f_i is the clipping factor of row i's unit
// ("book-keeping", Bu et al. 2023, "Differentially Private Optimization on Large Model at Small
// Cost"). That is cheaper than a second, reweighted backward pass and allows per-layer factors.
//
// A privacy unit is a record (record-level DP) or an owner (owner-level DP: all of an owner's
// rows in the batch count as one example, their gradients summed before clipping; ghost norms
// treat the owner's rows as one long sequence).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "peft/lora.h"
#include "src/models/model.h"

namespace lethe {

struct DpSgdStep {
  double max_grad_norm = 1.0;     // C
  double noise_multiplier = 0.0;  // sigma
  double expected_batch = 1.0;    // q x units: what the noisy sum is divided by
  // Per-layer clipping: each trained layer (an adapter's A and B together, or a Linear's weight
  // and bias) is clipped to C / sqrt(layers), so the whole gradient still has norm <= C.
  bool per_layer = false;
};

struct DpSgdStats {
  int64_t units = 0;     // privacy units in the batch
  int64_t examples = 0;  // rows
  int64_t clipped = 0;   // units with some gradient norm above its threshold
  double loss_sum = 0;   // of the rows' losses, for reporting
};

// `unit_of_row[i]` is row i's privacy unit, numbered 0..units-1 in the batch; an empty batch
// (Poisson sampling can draw one) skips the forward pass and gives noise alone.
// `per_example_loss` runs the forward pass with the capture it is given and returns the loss of
// each row ([B]). On return every tensor of `trainable` holds the step's private gradient in
// .grad. ErrorKind::kInternal when a trainable tensor belongs to no captured layer (its
// gradient would escape the clipping), or a layer was captured twice; kUsage for C <= 0.
DpSgdStats dp_sgd_gradients(const std::vector<at::Tensor>& trainable, const LoraSet* lora,
                            const std::vector<int64_t>& unit_of_row,
                            const std::function<at::Tensor(ActivationCapture&)>& per_example_loss,
                            const DpSgdStep& step, at::Generator& generator);

// dp_sgd_gradients in its two parts, for a step whose units are spread over micro-batches (and
// ranks, src/trainers/data_parallel.h): the clipped sum of one micro-batch's units into .grad
// (zeroed first), and, once the micro-batches' sums are added up, the noise and the division.
DpSgdStats dp_clipped_sum(const std::vector<at::Tensor>& trainable, const LoraSet* lora,
                          const std::vector<int64_t>& unit_of_row,
                          const std::function<at::Tensor(ActivationCapture&)>& per_example_loss,
                          const DpSgdStep& step);
void dp_noise_and_scale(const std::vector<at::Tensor>& trainable, const DpSgdStep& step, at::Generator& generator);

}  // namespace lethe
