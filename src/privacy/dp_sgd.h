// One DP-SGD step's gradient (Abadi et al. 2016) with ghost clipping: each example's gradient
// is clipped to L2 norm C and the clipped gradients summed, without forming any per-example
// gradient, then Gaussian noise N(0, sigma^2 C^2) is added once and the sum divided by the
// expected batch size (Poisson sampling makes the batch size random; dividing by its
// expectation keeps the estimate unbiased and the sensitivity C / expected batch).
//
// Two backward passes: the first, of the summed per-example losses, fills the captured adapter
// outputs' gradients, from which ghost_norms gives every example's gradient norm; the second,
// of the losses weighted by min(1, C / norm), gives the clipped sum in the parameters' .grad.
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
  double expected_batch = 1.0;    // q N: what the noisy sum is divided by
};

struct DpSgdStats {
  int64_t examples = 0;
  int64_t clipped = 0;  // examples whose gradient norm exceeded C
};

// `per_example_loss` runs the forward pass with the capture it is given and returns the loss of
// each example ([B]). On return every trainable adapter's A and B hold the step's private
// gradient in .grad. ErrorKind::kInternal when a trainable adapter was not captured (its norm
// would escape the clipping). Only adapters are covered: a caller must not train other
// parameters (a head) in the same step, or their gradients would be neither clipped nor noised.
DpSgdStats dp_sgd_gradients(LoraSet& set, const std::function<at::Tensor(ActivationCapture&)>& per_example_loss,
                            const DpSgdStep& step, at::Generator& generator);

}  // namespace lethe
