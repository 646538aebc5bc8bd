#include "src/common/device.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>
#if LETHE_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <cstdlib>
#include <string>

#include "src/common/error.h"

namespace lethe {

namespace {

// Deterministic GPU numerics (docs/gpu.md, "Determinism"). cuBLAS reads its workspace setting
// when its first handle is made, so this runs before any GPU work.
void pin_gpu_numerics() {
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::Context& c = at::globalContext();
  c.setDeterministicAlgorithms(true, /*warn_only=*/false);
  c.setDeterministicCuDNN(true);
  c.setBenchmarkCuDNN(false);
  c.setAllowTF32CuBLAS(false);  // fp32 means fp32: TF32 would round the products' inputs to 10 bits
  c.setAllowTF32CuDNN(false);
}

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return *end == '\0' && n >= 0 && n < 1 << 20 ? static_cast<int>(n) : -1;
}

}  // namespace

std::string ComputeDevice::describe() const {
  if (!is_cuda()) return "cpu";
  return fmt::format("cuda:{} ({}), {}", static_cast<int>(device.index()), gpu, bf16 ? "bf16" : "fp32");
}

int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"}) {
    if (const int r = env_int(name); r >= 0) return r;
  }
  return 0;
}

ComputeDevice select_device(const std::string& device, const std::string& precision) {
  if (device != "auto" && device != "cpu" && device != "cuda") {
    fail(ErrorKind::kUsage, "runtime.device '{}': expected auto, cpu or cuda", device);
  }
  if (precision != "fp32" && precision != "bf16") {
    fail(ErrorKind::kUsage, "runtime.precision '{}': expected fp32 or bf16", precision);
  }
  ComputeDevice d;
  if (device != "cpu") {
    // Counted through the CUDA runtime first: LibTorch's own count prints a warning where
    // there is no driver.
    const CudaInfo cuda = cuda_info();
    if (!cuda.gpus.empty()) {
      const int index = local_rank() % static_cast<int>(cuda.gpus.size());
      d.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
      d.gpu = cuda.gpus[static_cast<size_t>(index)];
    } else if (device == "cuda") {
      fail(ErrorKind::kUsage, "runtime.device = 'cuda' (or --device cuda) but this process has no GPU: {}",
           built_with_cuda() ? cuda.no_gpu_reason : "this lethe was built without CUDA (LETHE_CUDA=OFF)");
    }
  }
  if (precision == "bf16") {
    if (!d.is_cuda()) {
      fail(ErrorKind::kUsage, "runtime.precision = 'bf16' runs on a GPU only and this process runs on the CPU; "
           "use fp32 here");
    }
    d.bf16 = true;
  }
  if (d.is_cuda()) {
    pin_gpu_numerics();
#if LETHE_CUDA
    // The rank's own GPU is the current one too: LibTorch's and cuBLAS's per-process state
    // (contexts, handles) is made there, not on GPU 0 for every rank of the node.
    c10::cuda::set_device(d.device.index());
#endif
  }
  return d;
}

Numerics numerics_on(const ComputeDevice& device) {
  Numerics n = cpu_numerics();
  if (device.is_cuda()) {
    n.device = "cuda";
    n.cuda = cuda_info().runtime;
    n.gpu = device.gpu;
    n.precision = device.bf16 ? "bf16" : "fp32";
  }
  return n;
}

at::Generator device_generator(const ComputeDevice& device, uint64_t seed) {
  if (!device.is_cuda()) return at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Generator g = at::detail::getCUDAHooks().getNewGenerator(device.device.index());
  g.set_current_seed(seed);
  return g;
}

PrecisionGuard::PrecisionGuard(const ComputeDevice& device) : active_(device.is_cuda() && device.bf16) {
  if (!active_) return;
  was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
}

PrecisionGuard::~PrecisionGuard() {
  if (!active_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
  if (!was_enabled_) at::autocast::clear_cache();
}

}  // namespace lethe
