#include "src/common/platform.h"

#include <dlfcn.h>
#include <link.h>
#include <mpi.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include <ATen/Parallel.h>
#include <torch/version.h>

namespace lethe {

namespace {

// Path of the loaded shared object whose name contains `needle`, resolved through symlinks
// (Debian's alternatives system points libblas.so.3 at the chosen implementation).
std::string loaded_library_path(const char* needle) {
  struct Query {
    const char* needle;
    std::string path;
  } query{needle, {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* q = static_cast<Query*>(data);
        if (info->dlpi_name && std::strstr(info->dlpi_name, q->needle)) {
          q->path = info->dlpi_name;
          return 1;
        }
        return 0;
      },
      &query);
  if (query.path.empty()) return {};
  char resolved[PATH_MAX];
  return realpath(query.path.c_str(), resolved) ? std::string(resolved) : query.path;
}

}  // namespace

BlasInfo blas_info() {
  BlasInfo info;
  // OpenBLAS exports openblas_get_config(); the reference BLAS does not.
  using GetConfig = char* (*)();
  if (auto get_config = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    info.name = "OpenBLAS";
    info.detail = get_config();
    info.fast = true;
    return info;
  }
  const std::string path = loaded_library_path("libblas.so");
  info.detail = path;
  if (path.find("openblas") != std::string::npos) {
    info.name = "OpenBLAS";
    info.fast = true;
  } else if (path.find("/blas/") != std::string::npos) {
    info.name = "reference BLAS";
  } else {
    info.name = path.empty() ? "none loaded" : "unknown";
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

ThreadCounts set_threads(int blas, int torch) {
  ThreadCounts applied;
  applied.blas = blas > 0 ? blas : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  applied.torch = torch > 0 ? torch : applied.blas;
  at::set_num_threads(applied.torch);
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(applied.blas);
  }
  return applied;
}

ThreadCounts current_threads() {
  ThreadCounts now;
  now.torch = at::get_num_threads();
  using GetThreads = int (*)();
  if (auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) {
    now.blas = get();
  }
  return now;
}

}  // namespace lethe
