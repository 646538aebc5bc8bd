// kernels/: the CPU references that the CUDA kernels are checked against (kernels/tests/
// kernel_check.cu, on a GPU), checked here against LibTorch and against the ghost norms that
// DP-SGD uses, and the LibTorch adapter's CPU path (multi_lora) against the reference.
#include "tests/support/catch_torch.h"

#include <torch/torch.h>

#include <vector>

#include "kernels/gram_norms.h"
#include "kernels/sgmv.h"
#include "kernels/torch_ops.h"
#include "peft/lora.h"
#include "src/privacy/ghost_norms.h"
#include "tests/support/error_kind.h"
#include "tests/support/skip.h"

using namespace lethe;
using namespace lethe::kernels;

namespace {

// Host pointers of a set of adapters, for the reference.
struct AdapterPointers {
  std::vector<const float*> A, B;
  explicit AdapterPointers(const std::vector<LoraPair>& adapters) {
    for (const LoraPair& p : adapters) {
      A.push_back(p.A.data_ptr<float>());
      B.push_back(p.B.data_ptr<float>());
    }
  }
};

std::vector<LoraPair> random_adapters(int64_t count, int64_t rank, int64_t in, int64_t out) {
  std::vector<LoraPair> adapters;
  for (int64_t g = 0; g < count; ++g) adapters.push_back({torch::randn({rank, in}), torch::randn({out, rank})});
  return adapters;
}

// y0 + the reference's update, for x [rows, in].
at::Tensor reference_sgmv(const at::Tensor& x, const at::Tensor& y0, const LoraSegments& seg,
                          const std::vector<LoraPair>& adapters, float scaling, at::Tensor* h_out = nullptr) {
  at::Tensor y = y0.clone();
  at::Tensor h = torch::full({x.size(0), adapters[0].A.size(0)}, -7.0f);
  const AdapterPointers p(adapters);
  SgmvArgs args;
  args.x = x.data_ptr<float>();
  args.y = y.data_ptr<float>();
  args.h = h.data_ptr<float>();
  args.seg_start = seg.start.data();
  args.seg_adapter = seg.adapter.data();
  args.A = p.A.data();
  args.B = p.B.data();
  args.rows = x.size(0);
  args.in = x.size(1);
  args.out = y.size(1);
  args.rank = h.size(1);
  args.num_segments = static_cast<int64_t>(seg.adapter.size());
  args.num_adapters = static_cast<int64_t>(adapters.size());
  args.scaling = scaling;
  const KernelStatus st = sgmv_reference(args);
  INFO(st.error);
  REQUIRE(st.ok());
  if (h_out != nullptr) *h_out = h;
  return y;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  if (a.numel() == 0) return 0;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

at::Tensor reference_gram(const at::Tensor& a_in, const at::Tensor& g_in) {
  const at::Tensor a = a_in.contiguous(), g = g_in.contiguous();
  at::Tensor out = torch::empty({a.size(0)});
  const KernelStatus st = gram_norms_reference({a.data_ptr<float>(), g.data_ptr<float>(), out.data_ptr<float>(),
                                                a.size(0), a.size(1), a.size(2), g.size(2)});
  INFO(st.error);
  REQUIRE(st.ok());
  return out;
}

double max_rel_diff(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor w = want.to(torch::kFloat64);
  return ((got.to(torch::kFloat64) - w).abs() / w.abs().clamp_min(1e-30)).max().item<double>();
}

}  // namespace

TEST_CASE("kernels: the SGMV reference adds each segment's own adapter, as a per-segment LibTorch matmul does",
          "[kernels]") {
  torch::manual_seed(3);
  const int64_t in = 37, out = 23, rank = 5;
  const std::vector<LoraPair> adapters = random_adapters(3, rank, in, out);
  // Ragged, an empty segment, a one-row segment, one without an adapter, adapter 0 used twice.
  const LoraSegments seg = lora_segments({11, 0, 1, 6, 9, 4}, {0, 1, 2, -1, 1, 0});
  const int64_t rows = seg.start.back();
  const at::Tensor x = torch::randn({rows, in}), y0 = torch::randn({rows, out});
  const float s = 1.5f;
  at::Tensor h;
  const at::Tensor y = reference_sgmv(x, y0, seg, adapters, s, &h);

  for (size_t i = 0; i < seg.adapter.size(); ++i) {
    INFO("segment " << i);
    const int64_t b = seg.start[i], e = seg.start[i + 1];
    if (seg.adapter[i] < 0) {
      CHECK(torch::equal(y.slice(0, b, e), y0.slice(0, b, e)));  // no adapter: y untouched
      CHECK((h.slice(0, b, e) == -7.0f).all().item<bool>());     // nor h
      continue;
    }
    const LoraPair& p = adapters[static_cast<size_t>(seg.adapter[i])];
    const at::Tensor xs = x.slice(0, b, e).to(torch::kFloat64);
    const at::Tensor hs = torch::matmul(xs, p.A.to(torch::kFloat64).t());
    const at::Tensor want = y0.slice(0, b, e).to(torch::kFloat64) + s * torch::matmul(hs, p.B.to(torch::kFloat64).t());
    CHECK(max_abs_diff(h.slice(0, b, e), hs) < 1e-5);
    CHECK(max_abs_diff(y.slice(0, b, e), want) < 1e-4);
  }
}

TEST_CASE("kernels: multi_lora on CPU equals the SGMV reference, and lora_delta for a single adapter", "[kernels]") {
  torch::manual_seed(5);
  const int64_t in = 16, out = 12, rank = 4, T = 3;
  const std::vector<LoraPair> adapters = random_adapters(4, rank, in, out);
  const double s = 2.0;

  SECTION("rows [N, in], ragged segments, one without an adapter") {
    const LoraSegments seg = lora_segments({5, 1, 0, 7, 3}, {3, -1, 0, 1, 3});
    const at::Tensor x = torch::randn({seg.start.back(), in});
    const at::Tensor got = multi_lora(x, seg, adapters, s);
    CHECK(max_abs_diff(got, reference_sgmv(x, torch::zeros({x.size(0), out}), seg, adapters, static_cast<float>(s))) < 1e-4);
  }
  SECTION("sequences [N, T, in]: segments over examples, every position of an example with its adapter") {
    const LoraSegments seg = lora_segments({2, 3, 1}, {1, -1, 2});
    const at::Tensor x = torch::randn({seg.start.back(), T, in});
    const at::Tensor got = multi_lora(x, seg, adapters, s);
    REQUIRE((got.sizes().vec() == std::vector<int64_t>{6, T, out}));
    const LoraSegments rows = lora_segments({2 * T, 3 * T, 1 * T}, {1, -1, 2});
    const at::Tensor want = reference_sgmv(x.reshape({-1, in}), torch::zeros({6 * T, out}), rows, adapters, static_cast<float>(s));
    CHECK(max_abs_diff(got.reshape({-1, out}), want) < 1e-4);
  }
  SECTION("one segment, one adapter: peft's own update") {
    LoraSet set;
    set.scaling = s;
    set.enabled = {true};
    set.adapters["q_proj"] = LoraAdapter{0, adapters[2].A, adapters[2].B};
    const at::Tensor x = torch::randn({4, T, in});
    const at::Tensor got = multi_lora(x, lora_segments({4}, {0}), {adapters[2]}, s);
    const auto want = lora_delta(set, "q_proj", x, false, std::nullopt);
    REQUIRE(want.has_value());
    CHECK(max_abs_diff(got, *want) < 1e-5);
  }
  SECTION("no rows") {
    const at::Tensor got = multi_lora(torch::zeros({0, in}), lora_segments({0}, {1}), adapters, s);
    CHECK((got.sizes().vec() == std::vector<int64_t>{0, out}));
  }
}

TEST_CASE("kernels: bad segment tables, sizes and pointers are reported errors, not crashes", "[kernels]") {
  const std::vector<int64_t> adapter{0, -1};
  const auto segments_error = [&](std::vector<int64_t> start, int64_t rows, int64_t num_adapters) {
    return sgmv_check_segments(start.data(), adapter.data(), 2, rows, num_adapters).error;
  };
  CHECK(segments_error({0, 3, 5}, 5, 1).empty());
  CHECK_THAT(segments_error({1, 3, 5}, 5, 1), Catch::Contains("segment 0 starts at row 1"));
  CHECK_THAT(segments_error({0, 3, 2}, 3, 1), Catch::Contains("segment 1 ends at row 2 before it starts at 3"));
  CHECK_THAT(segments_error({0, 3, 5}, 6, 1), Catch::Contains("not at rows = 6"));
  CHECK_THAT(segments_error({0, 3, 5}, 5, 0), Catch::Contains("segment 0 uses adapter 0 of 0"));

  SgmvArgs args;  // all null
  args.rows = 2;
  args.in = args.out = args.rank = 3;
  CHECK_THAT(sgmv_reference(args).error, Catch::Contains("x, y or h is null"));
  args.in = 0;
  CHECK_THAT(sgmv_reference(args).error, Catch::Contains("in = 0 is outside"));
  args.in = int64_t{1} << 40;
  CHECK_THAT(sgmv_reference(args).error, Catch::Contains("is outside"));

  CHECK_THAT(gram_norms_reference({nullptr, nullptr, nullptr, 2, 3, 4, 5}).error, Catch::Contains("is null"));
  CHECK_THAT(gram_norms_reference({nullptr, nullptr, nullptr, 2, 0, 4, 5}).error, Catch::Contains("T = 0 is outside"));
  CHECK_THAT(gram_norms_reference({nullptr, nullptr, nullptr, 1 << 20, 1 << 20, 4, 5}).error, Catch::Contains("rows exceed"));
  CHECK(gram_norms_reference({nullptr, nullptr, nullptr, 0, 3, 4, 5}).ok());  // no examples: nothing to do

  // The adapter checks the same before any arithmetic.
  const std::vector<LoraPair> adapters = random_adapters(1, 2, 4, 3);
  const at::Tensor x = torch::randn({5, 4});
  std::string message;
  CHECK(test::kind_of([&] { multi_lora(x, {{0, 3, 6}, {0, -1}}, adapters, 1.0); }, &message) == ErrorKind::kInternal);
  CHECK_THAT(message, Catch::Contains("not at rows = 5"));
  CHECK(test::kind_of([&] { multi_lora(x, {{0, 5}, {0}}, random_adapters(1, 2, 3, 3), 1.0); }, &message) ==
        ErrorKind::kInternal);
  CHECK_THAT(message, Catch::Contains("adapter 0 has A [2, 3]"));
  CHECK(test::kind_of([&] { multi_lora(x, {{0, 5}, {0}}, {}, 1.0); }) == ErrorKind::kInternal);
}

TEST_CASE("kernels: the Gram-norm reference equals linear_weight_sq_norms on both its paths and the per-example "
          "gradients' norms", "[kernels]") {
  torch::manual_seed(9);
  // (batch, T, f1, f2): one position; odd sizes on the Gram path (T^2 <= f1 f2); the direct path
  // (T^2 > f1 f2); one feature each.
  for (const auto& [b, t, f1, f2] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {6, 1, 37, 11}, {3, 33, 65, 17}, {4, 16, 3, 5}, {2, 7, 1, 1}}) {
    INFO("B " << b << " T " << t << " f1 " << f1 << " f2 " << f2);
    const at::Tensor a = torch::randn({b, t, f1}), g = torch::randn({b, t, f2});
    const at::Tensor ref = reference_gram(a, g);
    CHECK(max_rel_diff(ref, linear_weight_sq_norms(a, g)) < 1e-5);
    // Brute force: form each example's gradient G_b = sum_t g_t a_t^T and take its norm.
    const at::Tensor G = torch::bmm(g.to(torch::kFloat64).transpose(1, 2), a.to(torch::kFloat64));  // [B, f2, f1]
    CHECK(max_rel_diff(ref, G.pow(2).sum({1, 2})) < 1e-5);
  }
}

TEST_CASE("kernels: on a GPU (fp32, where the kernels serve them), multi_lora and the ghost norms agree with the CPU",
          "[kernels][cuda]") {
#if !LETHE_CUDA
  LETHE_SKIP("built without LETHE_CUDA: the kernels are not in this binary");
#else
  if (!torch::cuda::is_available()) LETHE_SKIP("no CUDA device");
  torch::manual_seed(13);
  const torch::Device gpu(torch::kCUDA);
  const int64_t in = 96, out = 80, rank = 8;
  const std::vector<LoraPair> adapters = random_adapters(3, rank, in, out);
  std::vector<LoraPair> on_gpu;
  for (const LoraPair& p : adapters) on_gpu.push_back({p.A.to(gpu), p.B.to(gpu)});
  const LoraSegments seg = lora_segments({9, 0, 70, 4, 1}, {2, 0, -1, 1, 2});
  const at::Tensor x = torch::randn({seg.start.back(), 5, in});
  const at::Tensor want = multi_lora(x, seg, adapters, 2.0);
  const at::Tensor got = multi_lora(x.to(gpu), seg, on_gpu, 2.0).cpu();
  CHECK(max_abs_diff(got, want) < 1e-3 * std::max(1.0, want.abs().max().item<double>()));

  // (T^2 <= f1 f2: the Gram path, which the kernel takes); T = 1 and odd sizes.
  for (const auto& [b, t, f1, f2] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
           {6, 1, 37, 11}, {3, 33, 65, 17}, {4, 40, 64, 48}}) {
    INFO("B " << b << " T " << t << " f1 " << f1 << " f2 " << f2);
    const at::Tensor a = torch::randn({b, t, f1}), g = torch::randn({b, t, f2});
    CHECK(max_rel_diff(linear_weight_sq_norms(a.to(gpu), g.to(gpu)).cpu(), reference_gram(a, g)) < 1e-4);
  }
#endif
}
