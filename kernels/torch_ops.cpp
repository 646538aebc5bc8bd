#include "kernels/torch_ops.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "kernels/sgmv.h"
#include "src/common/error.h"

#if LETHE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/gram_norms_cuda.h"
#include "kernels/sgmv_cuda.h"
#endif

namespace lethe::kernels {

namespace {

struct LoraShape {
  int64_t rank = 0, in = 0, out = 0;
};

LoraShape check_adapters(const at::Tensor& x, const std::vector<LoraPair>& adapters) {
  if (adapters.empty()) fail(ErrorKind::kInternal, "multi_lora: no adapters");
  const LoraShape s{adapters[0].A.size(0), x.size(-1), adapters[0].B.size(0)};
  for (size_t g = 0; g < adapters.size(); ++g) {
    const at::Tensor& A = adapters[g].A;
    const at::Tensor& B = adapters[g].B;
    if (A.dim() != 2 || B.dim() != 2 || A.size(0) != s.rank || A.size(1) != s.in || B.size(0) != s.out ||
        B.size(1) != s.rank) {
      fail(ErrorKind::kInternal, "multi_lora: adapter {} has A [{}] and B [{}], not [{}, {}] and [{}, {}]", g,
           fmt::join(A.sizes(), ", "), fmt::join(B.sizes(), ", "), s.rank, s.in, s.out, s.rank);
    }
    if (A.device() != x.device() || B.device() != x.device()) {
      fail(ErrorKind::kInternal, "multi_lora: adapter {} is on {}, x on {}", g, A.device().str(), x.device().str());
    }
  }
  return s;
}

// The LibTorch path: one product per segment, as peft/lora.h's lora_delta computes one adapter.
at::Tensor multi_lora_torch(const at::Tensor& x2, const std::vector<int64_t>& start, const std::vector<int64_t>& adapter,
                            const std::vector<LoraPair>& adapters, double scaling, int64_t out) {
  std::vector<at::Tensor> pieces;
  for (size_t s = 0; s < adapter.size(); ++s) {
    const at::Tensor xs = x2.slice(0, start[s], start[s + 1]);
    if (adapter[s] < 0) {
      pieces.push_back(at::zeros({xs.size(0), out}, x2.options()));
      continue;
    }
    const LoraPair& p = adapters[static_cast<size_t>(adapter[s])];
    pieces.push_back(at::matmul(at::matmul(xs, p.A.t()), p.B.t()) * scaling);
  }
  if (pieces.empty()) return at::zeros({0, out}, x2.options());
  return at::cat(pieces);
}

#if LETHE_CUDA
bool kernel_takes(const at::Tensor& t) { return t.is_cuda() && t.scalar_type() == at::kFloat && !t.requires_grad(); }

// The kernel path: the segment table and the adapters' device pointers go over in one copy.
at::Tensor multi_lora_cuda(const at::Tensor& x2_in, const std::vector<int64_t>& start,
                           const std::vector<int64_t>& adapter, const std::vector<LoraPair>& adapters, double scaling,
                           const LoraShape& s) {
  const c10::cuda::CUDAGuard guard(x2_in.device());
  // Contiguous copies, where needed, live until return: the caching allocator reuses their
  // memory only after the kernels queued on this stream.
  const at::Tensor x2 = x2_in.contiguous();
  std::vector<at::Tensor> A, B;
  for (const LoraPair& p : adapters) {
    A.push_back(p.A.contiguous());
    B.push_back(p.B.contiguous());
  }
  const int64_t S = static_cast<int64_t>(adapter.size()), G = static_cast<int64_t>(adapters.size());
  std::vector<int64_t> table(start);
  table.insert(table.end(), adapter.begin(), adapter.end());
  for (const at::Tensor& a : A) table.push_back(reinterpret_cast<int64_t>(a.data_ptr<float>()));
  for (const at::Tensor& b : B) table.push_back(reinterpret_cast<int64_t>(b.data_ptr<float>()));
  // A blocking copy: `table` may go once it returns.
  const at::Tensor dev = at::from_blob(table.data(), {static_cast<int64_t>(table.size())}, at::kLong).to(x2.device());
  const int64_t* d = dev.data_ptr<int64_t>();

  int64_t longest = 0;
  for (int64_t i = 0; i < S; ++i) longest = std::max(longest, start[i + 1] - start[i]);
  const int64_t rows = x2.size(0);
  at::Tensor y = at::zeros({rows, s.out}, x2.options());
  at::Tensor h = at::empty({rows, s.rank}, x2.options());
  SgmvArgs args;
  args.x = x2.data_ptr<float>();
  args.y = y.data_ptr<float>();
  args.h = h.data_ptr<float>();
  args.seg_start = d;
  args.seg_adapter = d + S + 1;
  args.A = reinterpret_cast<const float* const*>(d + 2 * S + 1);
  args.B = reinterpret_cast<const float* const*>(d + 2 * S + 1 + G);
  args.rows = rows;
  args.in = s.in;
  args.out = s.out;
  args.rank = s.rank;
  args.num_segments = S;
  args.num_adapters = G;
  args.max_segment_rows = longest;
  args.scaling = static_cast<float>(scaling);
  if (KernelStatus st = sgmv_cuda(args, c10::cuda::getCurrentCUDAStream().stream()); !st.ok()) {
    fail(ErrorKind::kInternal, "multi_lora: {}", st.error);
  }
  return y;
}
#endif

}  // namespace

LoraSegments lora_segments(const std::vector<int64_t>& rows, std::vector<int64_t> adapter) {
  if (rows.size() != adapter.size()) {
    fail(ErrorKind::kInternal, "lora_segments: {} row counts and {} adapters", rows.size(), adapter.size());
  }
  LoraSegments seg{{0}, std::move(adapter)};
  for (int64_t n : rows) {
    if (n < 0) fail(ErrorKind::kInternal, "lora_segments: a segment of {} rows", n);
    seg.start.push_back(seg.start.back() + n);
  }
  return seg;
}

at::Tensor multi_lora(const at::Tensor& x, const LoraSegments& segments, const std::vector<LoraPair>& adapters,
                      double scaling) {
  if (x.dim() < 2) fail(ErrorKind::kInternal, "multi_lora: x is [{}], not [N, ..., in]", fmt::join(x.sizes(), ", "));
  const LoraShape s = check_adapters(x, adapters);
  const int64_t S = static_cast<int64_t>(segments.adapter.size());
  if (segments.start.size() != segments.adapter.size() + 1) {
    fail(ErrorKind::kInternal, "multi_lora: {} segment starts for {} segments", segments.start.size(), S);
  }
  const KernelStatus st = sgmv_check_segments(segments.start.data(), segments.adapter.data(), S, x.size(0),
                                              static_cast<int64_t>(adapters.size()));
  if (!st.ok()) fail(ErrorKind::kInternal, "multi_lora: {}", st.error);

  // [N, ..., in] as rows of x2 [N * per, in]: a segment of items is a segment of rows.
  const int64_t per = x.size(0) == 0 ? 1 : x.numel() / (x.size(0) * s.in);
  const at::Tensor x2 = x.reshape({x.size(0) * per, s.in});
  std::vector<int64_t> row_start;
  for (int64_t v : segments.start) row_start.push_back(v * per);
  std::vector<int64_t> out_sizes = x.sizes().vec();
  out_sizes.back() = s.out;

#if LETHE_CUDA
  bool on_kernel = kernel_takes(x);
  for (const LoraPair& p : adapters) on_kernel = on_kernel && kernel_takes(p.A) && kernel_takes(p.B);
  if (on_kernel) return multi_lora_cuda(x2, row_start, segments.adapter, adapters, scaling, s).view(out_sizes);
#endif
  return multi_lora_torch(x2, row_start, segments.adapter, adapters, scaling, s.out).view(out_sizes);
}

#if LETHE_CUDA
at::Tensor gram_sq_norms_cuda(const at::Tensor& a_in, const at::Tensor& g_in) {
  if (a_in.dim() != 3 || g_in.dim() != 3 || a_in.size(0) != g_in.size(0) || a_in.size(1) != g_in.size(1) ||
      !kernel_takes(a_in) || !kernel_takes(g_in)) {
    fail(ErrorKind::kInternal, "gram norms: a [{}] and g [{}] are not fp32 CUDA tensors [B, T, F1], [B, T, F2]",
         fmt::join(a_in.sizes(), ", "), fmt::join(g_in.sizes(), ", "));
  }
  const c10::cuda::CUDAGuard guard(a_in.device());
  const at::Tensor a = a_in.contiguous(), g = g_in.contiguous();
  at::Tensor out = at::empty({a.size(0)}, a.options());
  const size_t ws_floats = gram_norms_workspace_floats(a.size(0), a.size(1));
  at::Tensor ws = at::empty({static_cast<int64_t>(ws_floats)}, a.options());
  const GramNormArgs args{a.data_ptr<float>(), g.data_ptr<float>(), out.data_ptr<float>(), a.size(0), a.size(1),
                          a.size(2), g.size(2)};
  if (KernelStatus st = gram_norms_cuda(args, ws.data_ptr<float>(), ws_floats, c10::cuda::getCurrentCUDAStream().stream());
      !st.ok()) {
    fail(ErrorKind::kInternal, "{}", st.error);
  }
  return out;
}
#endif

}  // namespace lethe::kernels
