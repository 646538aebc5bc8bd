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

struct ThreadCounts {
  int blas = 0;   // OpenBLAS threads: the matrix products, where the time goes
  int torch = 0;  // LibTorch intra-op (OpenMP) threads: element-wise work
};

// Sets OpenBLAS's threads to `blas` (0 = one per core) and LibTorch's intra-op threads to
// `torch` (0 = as many as OpenBLAS). Returns the counts applied.
//
// Why two numbers: LibTorch's OpenMP pool and OpenBLAS's pthread pool both busy-wait between
// parallel regions, and on a small machine they take the cores from each other. Measured on
// 2 cores: with both at 2, a LoRA training step of a hidden-512 model ran at 70 GFLOP/s; with
// LibTorch at 1 and OpenBLAS at 2, at 126 GFLOP/s, and pretraining the tiny ViT took 8.7 s
// instead of 23.2 s, with bit-identical results.
ThreadCounts set_threads(int blas, int torch);

// The counts in force now (OpenBLAS's as it reports them; 0 when it is not OpenBLAS).
ThreadCounts current_threads();

}  // namespace lethe
