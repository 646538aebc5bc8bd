// The Gram-form per-example gradient norm kernel (kernels/gram_norms.h has the math and the
// arguments) on a CUDA stream. Built only with LETHE_CUDA.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/gram_norms.h"

namespace lethe::kernels {

// The fp32 scratch the kernel needs for `batch` examples of T positions: one partial sum per
// (example, tile pair), summed in a fixed order by a second launch.
size_t gram_norms_workspace_floats(int64_t batch, int64_t T);

// Two launches on `stream`. `args` and `workspace` hold device pointers; `workspace_floats` must
// be at least gram_norms_workspace_floats(batch, T). Checks the arguments; returns the launch
// error, if any; the kernels run asynchronously.
KernelStatus gram_norms_cuda(const GramNormArgs& args, float* workspace, size_t workspace_floats, cudaStream_t stream);

}  // namespace lethe::kernels
