#include "src/common/platform.h"

#include <mpi.h>
#include <unistd.h>

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

bool built_with_cuda() {
#ifdef LETHE_WITH_CUDA
  return true;
#else
  return false;
#endif
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
    return n.device == "cuda" ? fmt::format("cuda (LibTorch {}, CUDA {})", n.libtorch, n.cuda)
                              : fmt::format("cpu (LibTorch {})", n.libtorch);
  };
  if (recorded.device != here.device || recorded.libtorch != here.libtorch || recorded.cuda != here.cuda) {
    return fmt::format("it was trained on {} and this process runs on {}: bit-identical results are claimed only on "
                       "the same device kind and software",
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
