#include "kernels/sgmv.h"

#include <limits>
#include <string>
#include <vector>

namespace lethe::kernels {

namespace {

constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();

struct Dim {
  const char* name;
  int64_t value, min;
};

std::string out_of_range(const Dim& d) {
  if (d.value >= d.min && d.value <= kMaxDim) return {};
  return "sgmv: " + std::string(d.name) + " = " + std::to_string(d.value) + " is outside [" + std::to_string(d.min) +
         ", " + std::to_string(kMaxDim) + "]";
}

}  // namespace

KernelStatus sgmv_check_args(const SgmvArgs& a) {
  const Dim dims[] = {{"rows", a.rows, 0}, {"in", a.in, 1}, {"out", a.out, 1}, {"rank", a.rank, 1},
                     {"num_segments", a.num_segments, 0}, {"num_adapters", a.num_adapters, 0},
                     {"max_segment_rows", a.max_segment_rows, 0}};
  for (const Dim& d : dims) {
    if (std::string e = out_of_range(d); !e.empty()) return kernel_error(e);
  }
  if (a.rows > 0 && (a.x == nullptr || a.y == nullptr || a.h == nullptr)) return kernel_error("sgmv: x, y or h is null");
  if (a.seg_start == nullptr) return kernel_error("sgmv: seg_start is null (it has num_segments + 1 entries)");
  if (a.num_segments > 0 && a.seg_adapter == nullptr) return kernel_error("sgmv: seg_adapter is null");
  if (a.num_adapters > 0 && (a.A == nullptr || a.B == nullptr)) return kernel_error("sgmv: the adapter pointer arrays are null");
  return kernel_ok();
}

KernelStatus sgmv_check_segments(const int64_t* seg_start, const int64_t* seg_adapter, int64_t num_segments,
                                 int64_t rows, int64_t num_adapters) {
  if (seg_start == nullptr || (num_segments > 0 && seg_adapter == nullptr)) return kernel_error("sgmv: segment table is null");
  if (seg_start[0] != 0) return kernel_error("sgmv: segment 0 starts at row " + std::to_string(seg_start[0]) + ", not 0");
  for (int64_t s = 0; s < num_segments; ++s) {
    if (seg_start[s + 1] < seg_start[s]) {
      return kernel_error("sgmv: segment " + std::to_string(s) + " ends at row " + std::to_string(seg_start[s + 1]) +
                          " before it starts at " + std::to_string(seg_start[s]));
    }
    if (seg_adapter[s] >= num_adapters) {
      return kernel_error("sgmv: segment " + std::to_string(s) + " uses adapter " + std::to_string(seg_adapter[s]) +
                          " of " + std::to_string(num_adapters));
    }
  }
  if (seg_start[num_segments] != rows) {
    return kernel_error("sgmv: the segments end at row " + std::to_string(seg_start[num_segments]) + ", not at rows = " +
                        std::to_string(rows));
  }
  return kernel_ok();
}

KernelStatus sgmv_reference(const SgmvArgs& a) {
  if (KernelStatus st = sgmv_check_args(a); !st.ok()) return st;
  if (KernelStatus st = sgmv_check_segments(a.seg_start, a.seg_adapter, a.num_segments, a.rows, a.num_adapters); !st.ok()) {
    return st;
  }
  for (int64_t s = 0; s < a.num_segments; ++s) {
    const int64_t g = a.seg_adapter[s];
    if (g < 0) continue;
    const float* A = a.A[g];
    const float* B = a.B[g];
    if (A == nullptr || B == nullptr) return kernel_error("sgmv: adapter " + std::to_string(g) + " has a null matrix");
    for (int64_t n = a.seg_start[s]; n < a.seg_start[s + 1]; ++n) {
      const float* xn = a.x + n * a.in;
      float* hn = a.h + n * a.rank;
      std::vector<double> h(static_cast<size_t>(a.rank));
      for (int64_t j = 0; j < a.rank; ++j) {  // h_n = A_g x_n
        double acc = 0;
        for (int64_t k = 0; k < a.in; ++k) acc += static_cast<double>(xn[k]) * A[j * a.in + k];
        h[static_cast<size_t>(j)] = acc;
        hn[j] = static_cast<float>(acc);
      }
      float* yn = a.y + n * a.out;
      for (int64_t o = 0; o < a.out; ++o) {  // y_n += s B_g h_n
        double acc = 0;
        for (int64_t j = 0; j < a.rank; ++j) acc += h[static_cast<size_t>(j)] * B[o * a.rank + j];
        yn[o] = static_cast<float>(yn[o] + a.scaling * acc);
      }
    }
  }
  return kernel_ok();
}

}  // namespace lethe::kernels
