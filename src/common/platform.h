// Facts about the running process's numeric stack, for --version and benchmarks, and the one
// place that sets the thread count.
#pragma once

#include <string>
#include <vector>

namespace lethe {

// The BLAS LibTorch calls for its matrix products: the torch wheel's x86 build carries MKL,
// which runs on LibTorch's own OpenMP threads.
struct BlasInfo {
  std::string name;     // "MKL", "OpenBLAS", ... as LibTorch reports it
  std::string detail;   // its version line
};

BlasInfo blas_info();
std::string torch_version();
std::string mpi_library_version();  // callable before MPI_Init
bool built_with_cuda();

// The CUDA side of this process (empty fields in a build without CUDA).
struct CudaInfo {
  std::string runtime;             // the CUDA runtime's version, e.g. "13.2"
  std::string driver;              // the driver's CUDA version; empty where there is no driver
  std::vector<std::string> gpus;   // the names of the visible GPUs, by index
  std::string no_gpu_reason;       // why there are none, as the runtime says
  std::string nccl;                // the loaded NCCL's version, e.g. "2.30.7"
};
CudaInfo cuda_info();
std::string compiler_version();

// Makes the CPU's numeric results independent of the thread count; call first in main, before
// any LibTorch operation. MKL's GEMM splits small products differently for 1 and 2 threads
// (measured: a 10x64 by 64x64 product differs in the last bits), which would make a checkpoint
// depend on how many ranks shared the machine. MKL's strict conditional numerical reproducibility
// (MKL_CBWR=AUTO,STRICT: the fastest code path for this CPU, bitwise the same for any thread count
// in ?gemm, ?trsm, ?symm) removes that; it is read once, when MKL first runs. Results still
// depend on the CPU type (docs/gpu.md, "Determinism").
void pin_cpu_numerics();

// What a trained node's numbers depend on beyond its recorded inputs. A node records it
// (checkpoints/node_checkpoint.h); bit-identical retraining and `audit verify --replay` hold only
// under the same values (docs/gpu.md, "Determinism"). The thread count matters on the CPU because
// MKL's GEMM gives other last bits for some small products on 2 threads than on 1, even in its
// strict reproducible mode (measured: x W^T with 2 to 7 rows and 10 outputs).
struct Numerics {
  std::string device = "cpu";  // the device kind that trained the node: "cpu" or "cuda"
  std::string libtorch;        // LibTorch's version
  std::string cuda;            // the CUDA runtime's version when device is "cuda", else empty
  int threads = 0;             // LibTorch's CPU threads; 0 when not recorded
  std::string gpu;             // device "cuda": the GPU's name (another GPU model may round differently)
  std::string precision = "fp32";  // "fp32", or "bf16" (runtime.precision, GPU only)
};

// This process's numerics on the CPU, now.
Numerics cpu_numerics();

// Empty when a node trained under `recorded` can be trained again bit-identically under `here`
// once the thread count is set to the recorded one; otherwise why not, in words for a user.
std::string numerics_mismatch(const Numerics& recorded, const Numerics& here);

// Sets LibTorch's intra-op threads to `threads` (0 = one per core) and returns the count applied.
// MKL's matrix products and LibTorch's element-wise work share this one OpenMP pool (with LibTorch
// 1.13 and Debian's OpenBLAS there were two pools, which busy-waited against each other).
// Measured on 2 cores (docs/benchmarks.md): a training step of the small preset takes 1.8 s with
// 2 threads and 3.2 s with 1, and 2 threads beat LibTorch 1.13's best setting.
int set_threads(int threads);

// The count in force now.
int current_threads();

}  // namespace lethe
