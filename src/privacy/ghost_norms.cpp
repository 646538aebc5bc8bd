#include "src/privacy/ghost_norms.h"

#include <torch/torch.h>

#include "src/common/error.h"

#if LETHE_CUDA
#include "kernels/torch_ops.h"
#endif

namespace lethe {

namespace {

// [B, T, F]: a single position becomes T = 1.
at::Tensor as_sequence(const at::Tensor& x) {
  if (x.dim() == 2) return x.unsqueeze(1);
  if (x.dim() != 3) fail(ErrorKind::kInternal, "ghost norms: expected [B, T, F] or [B, F], got {} dimensions", x.dim());
  return x;
}

}  // namespace

at::Tensor linear_weight_sq_norms(const at::Tensor& a_in, const at::Tensor& g_in) {
  const at::Tensor a = as_sequence(a_in), g = as_sequence(g_in);
  if (a.size(0) != g.size(0) || a.size(1) != g.size(1)) {
    fail(ErrorKind::kInternal, "ghost norms: inputs [{}, {}] and output gradients [{}, {}] differ in batch or length",
         a.size(0), a.size(1), g.size(0), g.size(1));
  }
  const int64_t T = a.size(1);
  if (T == 1) return a.squeeze(1).pow(2).sum(1) * g.squeeze(1).pow(2).sum(1);
  if (T * T <= a.size(2) * g.size(2)) {
#if LETHE_CUDA
    // On the GPU, the same sum in one kernel (kernels/gram_norms.h) instead of two [B, T, T]
    // products: fp32 only, and outside autograd (the kernel records no graph).
    if (a.is_cuda() && a.scalar_type() == at::kFloat && g.scalar_type() == at::kFloat && !a.requires_grad() &&
        !g.requires_grad()) {
      return kernels::gram_sq_norms_cuda(a, g);
    }
#endif
    const at::Tensor ga = torch::bmm(a, a.transpose(1, 2));  // [B, T, T]
    const at::Tensor gg = torch::bmm(g, g.transpose(1, 2));
    return (ga * gg).sum({1, 2});
  }
  return torch::bmm(g.transpose(1, 2), a).pow(2).sum({1, 2});  // G_i itself: [B, out, in]
}

at::Tensor linear_bias_sq_norms(const at::Tensor& g_in) { return as_sequence(g_in).sum(1).pow(2).sum(1); }

at::Tensor lora_sq_norms(const at::Tensor& a_in, const at::Tensor& g_in, const at::Tensor& A, const at::Tensor& B,
                         double scaling) {
  const at::Tensor a = as_sequence(a_in), g = as_sequence(g_in);
  const at::Tensor h = torch::matmul(a, A.t());   // A a: [B, T, r]
  const at::Tensor gb = torch::matmul(g, B);      // B^T g: [B, T, r]
  return (linear_weight_sq_norms(h, g) + linear_weight_sq_norms(a, gb)) * (scaling * scaling);
}

}  // namespace lethe
