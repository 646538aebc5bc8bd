// Where this process computes: the one place that turns runtime.device and runtime.precision
// (or --device) into a LibTorch device, picks this rank's GPU, and sets the GPU's numerics to
// deterministic ones. Trainers, eval and predict place tensors on `ComputeDevice::device`;
// checkpoints are always written from CPU float32 tensors, so a node trained on one device
// serves on the other.
#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "src/common/platform.h"

namespace lethe {

struct ComputeDevice {
  c10::Device device{c10::kCPU};
  // runtime.precision = bf16: the products of a forward pass run in bfloat16 under LibTorch's
  // autocast (the weights, LoRA adapters, head and optimizer state stay float32). GPU only.
  bool bf16 = false;
  std::string gpu;  // the GPU's name; empty on the CPU

  bool is_cuda() const { return device.is_cuda(); }
  std::string describe() const;  // "cpu" or "cuda:1 (NVIDIA H200), bf16"
};

// The device for `device` (runtime.device: "auto", "cpu" or "cuda") and `precision`
// (runtime.precision: "fp32" or "bf16"). "auto" takes a GPU when the build has CUDA and one is visible, else the CPU; "cuda"
// without a usable GPU is ErrorKind::kUsage with the runtime's reason. Under a launcher
// each rank takes GPU local_rank % count (local_rank()). bf16 on the CPU is ErrorKind::kUsage:
// the CPU path is the one whose bits the tests and replays pin. On a GPU this also makes
// LibTorch's algorithms deterministic (an operation without a deterministic kernel fails
// instead of varying), fixes cuBLAS's workspace, turns TF32 off and cuDNN's autotuner off.
ComputeDevice select_device(const std::string& device, const std::string& precision);

// This process's index among the ranks of its node: OpenMPI's OMPI_COMM_WORLD_LOCAL_RANK,
// Slurm's SLURM_LOCALID, MPICH's MPI_LOCALRANKID, or 0.
int local_rank();

// What a node trained on `device` now depends on (platform.h's Numerics).
Numerics numerics_on(const ComputeDevice& device);

// A generator for random draws made on `device` itself (LoRA dropout masks), seeded with
// `seed`. On the CPU it is a CPU generator; on a GPU a CUDA one, since a CPU generator cannot
// draw into GPU memory.
at::Generator device_generator(const ComputeDevice& device, uint64_t seed);

// bf16 autocast on the device for the guard's lifetime when device.bf16; otherwise nothing.
class PrecisionGuard {
 public:
  explicit PrecisionGuard(const ComputeDevice& device);
  ~PrecisionGuard();
  PrecisionGuard(const PrecisionGuard&) = delete;
  PrecisionGuard& operator=(const PrecisionGuard&) = delete;

 private:
  bool active_ = false;
  bool was_enabled_ = false;
};

}  // namespace lethe
