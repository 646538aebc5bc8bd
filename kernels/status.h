// What a kernel or its CPU reference returns. The kernels are called from the LibTorch adapter
// (kernels/torch_ops.h) and from the standalone check binary, which has neither LibTorch nor the
// project's error type, so they never throw: a bad argument or a failed launch comes back as a
// message naming it, and the adapter turns that into lethe::fail.
#pragma once

#include <string>

namespace lethe::kernels {

struct KernelStatus {
  std::string error;  // empty when the call was valid and ran
  bool ok() const { return error.empty(); }
};

inline KernelStatus kernel_ok() { return {}; }
inline KernelStatus kernel_error(std::string message) { return {std::move(message)}; }

}  // namespace lethe::kernels
