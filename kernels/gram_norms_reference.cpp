#include "kernels/gram_norms.h"

#include <limits>
#include <string>

namespace lethe::kernels {

KernelStatus gram_norms_check_args(const GramNormArgs& a) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const struct {
    const char* name;
    int64_t value, min;
  } dims[] = {{"batch", a.batch, 0}, {"T", a.T, 1}, {"f1", a.f1, 1}, {"f2", a.f2, 1}};
  for (const auto& d : dims) {
    if (d.value < d.min || d.value > kMax) {
      return kernel_error("gram norms: " + std::string(d.name) + " = " + std::to_string(d.value) + " is outside [" +
                          std::to_string(d.min) + ", " + std::to_string(kMax) + "]");
    }
  }
  if (a.batch * a.T > kMax) {
    return kernel_error("gram norms: batch x T = " + std::to_string(a.batch * a.T) + " rows exceed " + std::to_string(kMax));
  }
  if (a.batch > 0 && (a.a == nullptr || a.g == nullptr || a.out == nullptr)) return kernel_error("gram norms: a, g or out is null");
  return kernel_ok();
}

namespace {

double dot(const float* u, const float* v, int64_t n) {
  double acc = 0;
  for (int64_t k = 0; k < n; ++k) acc += static_cast<double>(u[k]) * v[k];
  return acc;
}

}  // namespace

KernelStatus gram_norms_reference(const GramNormArgs& a) {
  if (KernelStatus st = gram_norms_check_args(a); !st.ok()) return st;
  for (int64_t b = 0; b < a.batch; ++b) {
    const float* ab = a.a + b * a.T * a.f1;
    const float* gb = a.g + b * a.T * a.f2;
    double sum = 0;
    for (int64_t t = 0; t < a.T; ++t) {
      for (int64_t s = 0; s < a.T; ++s) sum += dot(ab + t * a.f1, ab + s * a.f1, a.f1) * dot(gb + t * a.f2, gb + s * a.f2, a.f2);
    }
    a.out[b] = static_cast<float>(sum);
  }
  return kernel_ok();
}

}  // namespace lethe::kernels
