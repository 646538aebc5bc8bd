// Per-example gradient norms without per-example gradients ("ghost clipping": Goodfellow 2015;
// Li et al. 2022, "Large Language Models Can Be Strong Differentially Private Learners"), the
// first pass of a DP-SGD step. For a Linear map y_t = W a_t over positions t = 1..T of example
// i, with output gradients g_t, example i's weight gradient is G_i = sum_t g_t a_t^T and
//   ||G_i||_F^2 = sum_{t,s} (a_t . a_s)(g_t . g_s),
// the inner product of the two T x T Gram matrices: O(T^2 (in + out)) per example instead of
// forming G_i (O(T in out) time and in x out memory). With T = 1 it is ||a||^2 ||g||^2. When
// T^2 exceeds in x out, forming G_i is cheaper, and that path is taken.
//
// A LoRA adapter y = s B (A a) has two: dB_i = s sum_t g_t (A a_t)^T and dA_i = s sum_t
// (B^T g_t) a_t^T, the same form with (A a, g) and (a, B^T g).
//
// Inputs are [B, T, features] or [B, features] (T = 1); results are [B], in the inputs' dtype.
#pragma once

#include <ATen/core/Tensor.h>

namespace lethe {

// ||sum_t g_it a_it^T||_F^2 for each example i.
at::Tensor linear_weight_sq_norms(const at::Tensor& a, const at::Tensor& g);

// ||sum_t g_it||^2: the bias gradient's.
at::Tensor linear_bias_sq_norms(const at::Tensor& g);

// The squared norm of both LoRA matrices' gradients together, per example. `a` is what enters
// A (after dropout), `g` the gradient of the loss with respect to the adapter's output
// y = s B A a, A is [r, in], B [out, r], and `scaling` the adapter's s.
at::Tensor lora_sq_norms(const at::Tensor& a, const at::Tensor& g, const at::Tensor& A, const at::Tensor& B, double scaling);

}  // namespace lethe
