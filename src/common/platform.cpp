#include "src/common/platform.h"

#include <dlfcn.h>
#include <mpi.h>
#include <unistd.h>
#if LETHE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <fmt/format.h>
#include <torch/version.h>

namespace lethe {

BlasInfo blas_info() {
  BlasInfo info;
  // BLAS_INFO in at::show_config() says which library LibTorch's matrix products use;
  // at::get_parallel_info() has its version line, e.g. "Intel(R) oneAPI Math Kernel Library
  // Version 2024.2-Product Build ...".
  const std::string config = at::show_config();
  const size_t key = config.find("BLAS_INFO=");
  if (key != std::string::npos) {
    const size_t start = key + std::strlen("BLAS_INFO=");
    info.name = config.substr(start, config.find_first_of(", \n", start) - start);
  }
  if (info.name == "mkl") info.name = "MKL";
  if (info.name == "open") info.name = "OpenBLAS";
  if (info.name.empty()) info.name = "unknown";
  std::istringstream lines(at::get_parallel_info());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("Math Kernel Library") != std::string::npos || line.find("OpenBLAS") != std::string::npos) {
      info.detail = line;
      break;
    }
  }
  return info;
}

std::string torch_version() { return TORCH_VERSION; }

std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);
  std::string s(buf, static_cast<size_t>(len));
  // OpenMPI returns "Open MPI v4.1.4, package: ..., repo rev: ..., ..."; keep the first clause.
  const size_t comma = s.find(',');
  if (comma != std::string::npos) s.resize(comma);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

bool built_with_cuda() { return LETHE_CUDA != 0; }

CudaInfo cuda_info() {
  CudaInfo info;
#if LETHE_CUDA
  // Asked of the CUDA runtime directly: LibTorch's device count warns on stderr where there is no
  // driver, and --version must stay one clean line of JSON under --json.
  int version = 0;
  if (cudaRuntimeGetVersion(&version) == cudaSuccess) {
    info.runtime = fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
  }
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) {
    info.driver = fmt::format("{}.{}", driver / 1000, (driver % 1000) / 10);
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    info.no_gpu_reason = cudaGetErrorString(status);
    cudaGetLastError();  // clear it: a later CUDA call must not see this one's error
    count = 0;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) == cudaSuccess) info.gpus.emplace_back(prop.name);
  }
  if (count == 0 && info.no_gpu_reason.empty()) info.no_gpu_reason = "no CUDA device";
  // NCCL is loaded with LibTorch's CUDA library; ask it for its version without linking it.
  using GetVersion = int (*)(int*);
  if (auto get = reinterpret_cast<GetVersion>(dlsym(RTLD_DEFAULT, "ncclGetVersion"))) {
    int v = 0;
    if (get(&v) == 0) info.nccl = fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
  }
#endif
  return info;
}

std::string compiler_version() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

Numerics cpu_numerics() {
  Numerics n;
  n.libtorch = torch_version();
  n.threads = current_threads();
  return n;
}

std::string numerics_mismatch(const Numerics& recorded, const Numerics& here) {
  if (recorded.libtorch.empty()) return {};  // nodes from before the record: no claim either way
  const auto describe = [](const Numerics& n) {
    return n.device == "cuda" ? fmt::format("cuda ({}, {}, LibTorch {}, CUDA {})", n.gpu, n.precision, n.libtorch, n.cuda)
                              : fmt::format("cpu (LibTorch {})", n.libtorch);
  };
  if (recorded.device != here.device || recorded.libtorch != here.libtorch || recorded.cuda != here.cuda ||
      recorded.gpu != here.gpu || recorded.precision != here.precision) {
    return fmt::format("it was trained on {} and this process runs on {}: bit-identical results are claimed only on "
                       "the same device kind, precision and software",
                       describe(recorded), describe(here));
  }
  return {};
}

void pin_cpu_numerics() { setenv("MKL_CBWR", "AUTO,STRICT", /*overwrite=*/1); }

int set_threads(int threads) {
  const int applied = threads > 0 ? threads : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  at::set_num_threads(applied);
  return applied;
}

int current_threads() { return at::get_num_threads(); }

}  // namespace lethe
