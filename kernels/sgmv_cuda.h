// The multi-adapter LoRA kernel (kernels/sgmv.h has the math and the arguments) on a CUDA
// stream. Built only with LETHE_CUDA.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/sgmv.h"

namespace lethe::kernels {

// Two launches on `stream`, each covering every segment: the shrink writes h, the expand adds
// into y. `args` holds device pointers, the segment table and the adapter pointer arrays
// included. Checks the arguments (sgmv_check_args); the table is the caller's to check on its
// host copy (sgmv_check_segments): the kernel clamps each segment to [0, rows) and skips adapter
// indices outside [0, num_adapters), so a bad table reads and writes nothing out of bounds. Returns
// the launch error, if any; the kernels run asynchronously.
KernelStatus sgmv_cuda(const SgmvArgs& args, cudaStream_t stream);

}  // namespace lethe::kernels
