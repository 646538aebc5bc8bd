// The standalone kernel check: each CUDA kernel of kernels/ against its CPU reference on seeded
// random inputs, and the multi-adapter kernel against a loop that applies one adapter at a time
// (one launch pair per segment). No LibTorch, static cudart: the binary is small enough to be
// carried to a GPU machine and run there (kernels/README.md).
//
// Prints one line per case, then one JSON line of results (max abs error per case, kernel and
// loop timings) for launch scripts to collect. Exit codes: 0 all cases within tolerance,
// 1 a case failed or a CUDA call went wrong, 77 no CUDA device (printed as "SKIP: ..."; ctest
// maps it to a skip through SKIP_RETURN_CODE).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/gram_norms_cuda.h"
#include "kernels/sgmv_cuda.h"

namespace {

using namespace lethe::kernels;

constexpr int kSkipCode = 77;
constexpr int kTimedRuns = 20;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

void kernel_ok_or_throw(const KernelStatus& st) {
  if (!st.ok()) throw std::runtime_error(st.error);
}

// A device buffer that frees itself.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) { cuda_ok(cudaMalloc(&p_, std::max<size_t>(n, 1) * sizeof(T)), "cudaMalloc"); }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p_); }
  void upload(const std::vector<T>& host) {
    cuda_ok(cudaMemcpy(p_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    cuda_ok(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
    return host;
  }
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  size_t n_;
};

std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float f : a) m = std::max(m, std::fabs(static_cast<double>(f)));
  return m;
}

// Mean milliseconds of `launch` over kTimedRuns runs after one warm-up, by CUDA events.
template <typename F>
double time_ms(F&& launch) {
  launch();
  cudaEvent_t start, stop;
  cuda_ok(cudaEventCreate(&start), "cudaEventCreate");
  cuda_ok(cudaEventCreate(&stop), "cudaEventCreate");
  cuda_ok(cudaEventRecord(start), "cudaEventRecord");
  for (int i = 0; i < kTimedRuns; ++i) launch();
  cuda_ok(cudaEventRecord(stop), "cudaEventRecord");
  cuda_ok(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  cuda_ok(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / kTimedRuns;
}

struct Result {
  std::string json;  // one object of the "cases" array
  bool ok = false;
};

std::string num(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// ----- multi-adapter LoRA -----

struct Segment {
  int64_t rows;
  int64_t adapter;  // < 0: none
};

struct SgmvCase {
  const char* name;
  int64_t in, out, rank, num_adapters;
  std::vector<Segment> segments;
};

Result check_sgmv(const SgmvCase& c, std::mt19937_64& rng) {
  std::vector<int64_t> start{0}, adapter;
  for (const Segment& s : c.segments) {
    start.push_back(start.back() + s.rows);
    adapter.push_back(s.adapter);
  }
  const int64_t rows = start.back(), S = static_cast<int64_t>(c.segments.size());
  int64_t longest = 0;
  for (const Segment& s : c.segments) longest = std::max(longest, s.rows);
  // Kaiming-like scales keep h and y of order one, so that one tolerance fits every shape.
  const std::vector<float> x = random_floats(rng, static_cast<size_t>(rows * c.in), 1.0f);
  const std::vector<float> y0 = random_floats(rng, static_cast<size_t>(rows * c.out), 1.0f);
  std::vector<std::vector<float>> A, B;
  for (int64_t g = 0; g < c.num_adapters; ++g) {
    A.push_back(random_floats(rng, static_cast<size_t>(c.rank * c.in), 1.0f / std::sqrt(static_cast<float>(c.in))));
    B.push_back(random_floats(rng, static_cast<size_t>(c.out * c.rank), 1.0f / std::sqrt(static_cast<float>(c.rank))));
  }
  const float scaling = 2.0f;

  // The reference on host memory.
  std::vector<float> y_ref = y0, h_ref(static_cast<size_t>(rows * c.rank));
  std::vector<const float*> A_host, B_host;
  for (int64_t g = 0; g < c.num_adapters; ++g) {
    A_host.push_back(A[static_cast<size_t>(g)].data());
    B_host.push_back(B[static_cast<size_t>(g)].data());
  }
  SgmvArgs ref{x.data(), y_ref.data(), h_ref.data(), start.data(), adapter.data(), A_host.data(), B_host.data(),
               rows, c.in, c.out, c.rank, S, c.num_adapters, longest, scaling};
  kernel_ok_or_throw(sgmv_reference(ref));

  // The kernel: one launch pair for all segments.
  DeviceBuffer<float> dx(x), dy(y0), dh(static_cast<size_t>(rows * c.rank));
  DeviceBuffer<int64_t> dstart(start), dadapter(adapter);
  std::vector<std::unique_ptr<DeviceBuffer<float>>> dA, dB;
  std::vector<const float*> A_dev, B_dev;
  for (int64_t g = 0; g < c.num_adapters; ++g) {
    dA.push_back(std::make_unique<DeviceBuffer<float>>(A[static_cast<size_t>(g)]));
    dB.push_back(std::make_unique<DeviceBuffer<float>>(B[static_cast<size_t>(g)]));
    A_dev.push_back(dA.back()->get());
    B_dev.push_back(dB.back()->get());
  }
  DeviceBuffer<const float*> dAp(A_dev), dBp(B_dev);
  const SgmvArgs multi{dx.get(), dy.get(), dh.get(), dstart.get(), dadapter.get(), dAp.get(), dBp.get(),
                       rows, c.in, c.out, c.rank, S, c.num_adapters, longest, scaling};
  kernel_ok_or_throw(sgmv_cuda(multi, nullptr));
  cuda_ok(cudaDeviceSynchronize(), "sgmv kernel");
  const std::vector<float> y_kernel = dy.download();

  // The loop: one adapter at a time, each segment its own launch pair with a one-entry table.
  DeviceBuffer<float> dy_loop(y0);
  std::vector<std::unique_ptr<DeviceBuffer<int64_t>>> tables;
  std::vector<SgmvArgs> one_each;
  const std::vector<int64_t> first{0};
  DeviceBuffer<int64_t> dfirst(first);
  for (int64_t s = 0; s < S; ++s) {
    const int64_t g = adapter[static_cast<size_t>(s)], n = c.segments[static_cast<size_t>(s)].rows;
    if (g < 0 || n == 0) continue;
    tables.push_back(std::make_unique<DeviceBuffer<int64_t>>(std::vector<int64_t>{0, n}));
    const int64_t row0 = start[static_cast<size_t>(s)];
    one_each.push_back(SgmvArgs{dx.get() + row0 * c.in, dy_loop.get() + row0 * c.out, dh.get() + row0 * c.rank,
                                tables.back()->get(), dfirst.get(), dAp.get() + g, dBp.get() + g, n, c.in, c.out,
                                c.rank, 1, 1, n, scaling});
  }
  const auto loop = [&] {
    for (const SgmvArgs& a : one_each) kernel_ok_or_throw(sgmv_cuda(a, nullptr));
  };
  loop();
  cuda_ok(cudaDeviceSynchronize(), "sgmv loop");
  const std::vector<float> y_loop = dy_loop.download();

  const double err_ref = max_abs_diff(y_kernel, y_ref), err_loop = max_abs_diff(y_kernel, y_loop);
  const double tol = 1e-4 * std::max(1.0, max_abs(y_ref));
  bool untouched = true;  // rows without an adapter keep y exactly
  for (int64_t s = 0; s < S; ++s) {
    if (adapter[static_cast<size_t>(s)] >= 0) continue;
    for (int64_t i = start[static_cast<size_t>(s)] * c.out; i < start[static_cast<size_t>(s) + 1] * c.out; ++i) {
      untouched = untouched && y_kernel[static_cast<size_t>(i)] == y0[static_cast<size_t>(i)];
    }
  }
  const double kernel_ms = time_ms([&] { kernel_ok_or_throw(sgmv_cuda(multi, nullptr)); });
  const double loop_ms = time_ms(loop);

  Result r;
  r.ok = err_ref <= tol && err_loop <= tol && untouched;
  std::printf("%s sgmv %-12s rows %5lld in %5lld out %5lld rank %3lld segments %3lld: max |kernel - reference| %.3g, "
              "|kernel - loop| %.3g (tol %.3g)%s; kernel %.4f ms, loop %.4f ms\n",
              r.ok ? "ok  " : "FAIL", c.name, static_cast<long long>(rows), static_cast<long long>(c.in),
              static_cast<long long>(c.out), static_cast<long long>(c.rank), static_cast<long long>(S), err_ref,
              err_loop, tol, untouched ? "" : ", rows without an adapter CHANGED", kernel_ms, loop_ms);
  r.json = std::string("{\"kernel\":\"sgmv\",\"case\":\"") + c.name + "\",\"rows\":" + std::to_string(rows) +
           ",\"in\":" + std::to_string(c.in) + ",\"out\":" + std::to_string(c.out) + ",\"rank\":" +
           std::to_string(c.rank) + ",\"segments\":" + std::to_string(S) + ",\"max_abs_err\":" + num(err_ref) +
           ",\"max_abs_err_vs_loop\":" + num(err_loop) + ",\"tol\":" + num(tol) + ",\"kernel_ms\":" + num(kernel_ms) +
           ",\"loop_ms\":" + num(loop_ms) + ",\"ok\":" + (r.ok ? "true" : "false") + "}";
  return r;
}

// ----- Gram-form per-example gradient norms -----

struct GramCase {
  const char* name;
  int64_t batch, T, f1, f2;
};

Result check_gram(const GramCase& c, std::mt19937_64& rng) {
  const std::vector<float> a = random_floats(rng, static_cast<size_t>(c.batch * c.T * c.f1), 1.0f);
  const std::vector<float> g = random_floats(rng, static_cast<size_t>(c.batch * c.T * c.f2), 1.0f);
  std::vector<float> ref(static_cast<size_t>(c.batch));
  kernel_ok_or_throw(gram_norms_reference(GramNormArgs{a.data(), g.data(), ref.data(), c.batch, c.T, c.f1, c.f2}));

  DeviceBuffer<float> da(a), dg(g), dout(static_cast<size_t>(c.batch));
  const size_t ws = gram_norms_workspace_floats(c.batch, c.T);
  DeviceBuffer<float> dws(ws);
  const GramNormArgs args{da.get(), dg.get(), dout.get(), c.batch, c.T, c.f1, c.f2};
  kernel_ok_or_throw(gram_norms_cuda(args, dws.get(), ws, nullptr));
  cuda_ok(cudaDeviceSynchronize(), "gram norms kernel");
  const std::vector<float> out = dout.download();
  kernel_ok_or_throw(gram_norms_cuda(args, dws.get(), ws, nullptr));
  const bool deterministic = dout.download() == out;  // a fixed summation order: bit-identical reruns

  double err = 0, rel = 0;
  for (size_t b = 0; b < out.size(); ++b) {
    const double d = std::fabs(static_cast<double>(out[b]) - ref[b]);
    err = std::max(err, d);
    rel = std::max(rel, d / std::max(1e-30, std::fabs(static_cast<double>(ref[b]))));
  }
  const double tol = 1e-4;  // relative: the norms are sums of positive-definite forms, far from zero
  const double kernel_ms = time_ms([&] { kernel_ok_or_throw(gram_norms_cuda(args, dws.get(), ws, nullptr)); });

  Result r;
  r.ok = rel <= tol && deterministic;
  std::printf("%s gram %-12s batch %4lld T %4lld f1 %5lld f2 %5lld: max |kernel - reference| %.3g, relative %.3g "
              "(tol %.3g)%s; kernel %.4f ms\n",
              r.ok ? "ok  " : "FAIL", c.name, static_cast<long long>(c.batch), static_cast<long long>(c.T),
              static_cast<long long>(c.f1), static_cast<long long>(c.f2), err, rel, tol,
              deterministic ? "" : ", reruns DIFFER", kernel_ms);
  r.json = std::string("{\"kernel\":\"gram_norms\",\"case\":\"") + c.name + "\",\"batch\":" + std::to_string(c.batch) +
           ",\"T\":" + std::to_string(c.T) + ",\"f1\":" + std::to_string(c.f1) + ",\"f2\":" + std::to_string(c.f2) +
           ",\"max_abs_err\":" + num(err) + ",\"max_rel_err\":" + num(rel) + ",\"tol\":" + num(tol) +
           ",\"deterministic\":" + (deterministic ? "true" : "false") + ",\"kernel_ms\":" + num(kernel_ms) +
           ",\"ok\":" + (r.ok ? "true" : "false") + "}";
  return r;
}

// Bad arguments come back as errors, before any launch.
Result check_rejects_bad_arguments() {
  SgmvArgs null_x;
  null_x.rows = 4;
  null_x.in = null_x.out = null_x.rank = 2;
  const bool sgmv_rejects = !sgmv_cuda(null_x, nullptr).ok();
  DeviceBuffer<float> d(8);
  const GramNormArgs args{d.get(), d.get(), d.get(), 2, 2, 1, 1};
  const bool gram_rejects = !gram_norms_cuda(args, d.get(), gram_norms_workspace_floats(2, 2) - 1, nullptr).ok();
  Result r;
  r.ok = sgmv_rejects && gram_rejects;
  std::printf("%s bad arguments are reported, not launched\n", r.ok ? "ok  " : "FAIL");
  r.json = std::string("{\"kernel\":\"arguments\",\"case\":\"rejects bad arguments\",\"ok\":") + (r.ok ? "true" : "false") + "}";
  return r;
}

int run(const cudaDeviceProp& prop) {
  std::mt19937_64 rng(20261201);
  const std::vector<SgmvCase> sgmv_cases = {
      // Ragged segments, an empty one, a one-row one, one without an adapter, an adapter used twice.
      {"ragged", 256, 384, 16, 4, {{37, 0}, {1, 2}, {0, 1}, {130, 3}, {64, -1}, {5, 0}}},
      // Odd sizes below one tile in every dimension.
      {"odd", 33, 71, 3, 3, {{7, 1}, {13, -1}, {1, 0}, {66, 2}}},
      // A rank above one tile (the shrink needs two column tiles).
      {"rank80", 200, 130, 80, 2, {{70, 1}, {71, 0}}},
      // No segment has an adapter: y stays as it was.
      {"none", 64, 64, 8, 2, {{10, -1}, {20, -1}}},
      // Eval's shape: 16 shards' serving prefixes over one batch, one shard's layer not in its prefix.
      {"shards16", 1024, 1024, 8, 16,
       {{128, 0}, {128, 1}, {128, 2}, {128, 3}, {128, 4}, {128, 5}, {128, -1}, {128, 7},
        {128, 8}, {128, 9}, {128, 10}, {128, 11}, {128, 12}, {128, 13}, {128, 14}, {128, 15}}},
  };
  const std::vector<GramCase> gram_cases = {
      {"T1", 6, 1, 37, 11},        // one position: ||a||^2 ||g||^2
      {"odd", 3, 33, 65, 17},      // two tiles of positions, partial feature tiles
      {"tiny", 2, 7, 1, 1},        // one feature each
      {"narrow", 5, 64, 3, 700},   // f1 far below f2
      {"llm", 8, 256, 512, 512},   // a transformer layer's shape: 36 tile pairs per example
  };
  std::vector<Result> results;
  for (const SgmvCase& c : sgmv_cases) results.push_back(check_sgmv(c, rng));
  for (const GramCase& c : gram_cases) results.push_back(check_gram(c, rng));
  results.push_back(check_rejects_bad_arguments());

  bool ok = true;
  std::string cases;
  for (const Result& r : results) {
    ok = ok && r.ok;
    cases += (cases.empty() ? "" : ",") + r.json;
  }
  std::printf("{\"kernel_check\":{\"status\":\"%s\",\"device\":\"%s\",\"compute_capability\":\"%d.%d\",\"cases\":[%s]}}\n",
              ok ? "pass" : "fail", prop.name, prop.major, prop.minor, cases.c_str());
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    const std::string why = e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0 devices";
    std::printf("SKIP: no CUDA device (%s)\n", why.c_str());
    std::printf("{\"kernel_check\":{\"status\":\"skip\",\"reason\":\"no CUDA device (%s)\"}}\n", why.c_str());
    return kSkipCode;
  }
  try {
    cudaDeviceProp prop{};
    cuda_ok(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::printf("device 0: %s, compute capability %d.%d\n", prop.name, prop.major, prop.minor);
    return run(prop);
  } catch (const std::exception& ex) {
    std::printf("FAIL: %s\n", ex.what());
    std::printf("{\"kernel_check\":{\"status\":\"fail\",\"error\":\"CUDA call failed\"}}\n");
    return 1;
  }
}
