// Facts about the running process's numeric stack, for --version and benchmarks, and the one
// place that sets thread counts (LibTorch and OpenBLAS keep separate thread pools).
#pragma once

#include <string>

namespace lethe {

struct BlasInfo {
  std::string name;     // "OpenBLAS", "reference BLAS" or "unknown"
  std::string detail;   // OpenBLAS's config string, or the library path
  bool fast = false;    // false for the reference BLAS (training is ~13x slower)
};

BlasInfo blas_info();
std::string torch_version();
std::string mpi_library_version();  // callable before MPI_Init
bool built_with_cuda();
std::string compiler_version();

// Sets LibTorch intra-op threads and OpenBLAS threads to `n`; 0 means one per core.
// Returns the count applied.
int set_threads(int n);

}  // namespace lethe
