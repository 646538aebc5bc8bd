#include "checkpoints/tensor_io.h"

#include <cstring>

#include <torch/types.h>

#include "src/common/error.h"

// safetensors stores little-endian bytes and both directions below copy raw memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tensor_io assumes a little-endian host");

namespace lethe {

namespace {

struct Mapping {
  DType dtype;
  at::ScalarType scalar;
};

constexpr Mapping kMappings[] = {
    {DType::kF64, at::kDouble},    {DType::kF32, at::kFloat}, {DType::kF16, at::kHalf},
    {DType::kBF16, at::kBFloat16}, {DType::kI64, at::kLong},  {DType::kI32, at::kInt},
    {DType::kI16, at::kShort},     {DType::kI8, at::kChar},   {DType::kU8, at::kByte},
    {DType::kBool, at::kBool},
};

DType to_dtype(at::ScalarType scalar, const std::string& name) {
  for (const Mapping& m : kMappings) {
    if (m.scalar == scalar) return m.dtype;
  }
  fail(ErrorKind::kInternal, "tensor '{}': dtype {} cannot be stored in safetensors", name,
       c10::toString(scalar));
}

at::ScalarType to_scalar(DType dtype) {
  for (const Mapping& m : kMappings) {
    if (m.dtype == dtype) return m.scalar;
  }
  fail(ErrorKind::kInternal, "unknown DType value {}", static_cast<int>(dtype));
}

}  // namespace

TensorEntry to_entry(const std::string& name, const at::Tensor& tensor) {
  if (!tensor.defined()) fail(ErrorKind::kInternal, "tensor '{}' is undefined", name);
  TensorEntry e;
  e.name = name;
  e.dtype = to_dtype(tensor.scalar_type(), name);
  const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  e.shape.assign(t.sizes().begin(), t.sizes().end());
  const size_t nbytes = t.numel() * t.element_size();
  e.bytes.resize(nbytes);
  if (nbytes > 0) std::memcpy(e.bytes.data(), t.data_ptr(), nbytes);
  return e;
}

at::Tensor to_tensor(const TensorEntry& entry) {
  // Check the size before allocating: a hand-built entry's shape is not to be trusted.
  uint64_t nbytes = dtype_size(entry.dtype);
  bool valid = true;
  for (const int64_t d : entry.shape) {
    valid = valid && d >= 0 && !__builtin_mul_overflow(nbytes, static_cast<uint64_t>(d), &nbytes);
  }
  if (!valid || nbytes != entry.bytes.size()) {
    fail(ErrorKind::kInternal, "tensor '{}': {} bytes do not match its dtype {} and shape", entry.name,
         entry.bytes.size(), dtype_name(entry.dtype));
  }
  at::Tensor t = torch::empty(entry.shape, torch::TensorOptions().dtype(to_scalar(entry.dtype)));
  if (nbytes > 0) std::memcpy(t.data_ptr(), entry.bytes.data(), nbytes);
  return t;
}

std::map<std::string, at::Tensor> to_tensors(const SafetensorsFile& file) {
  std::map<std::string, at::Tensor> out;
  for (const TensorEntry& e : file.tensors) out.emplace(e.name, to_tensor(e));
  return out;
}

SafetensorsFile from_tensors(const std::map<std::string, at::Tensor>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  SafetensorsFile file;
  file.metadata = metadata;
  file.tensors.reserve(tensors.size());
  for (const auto& [name, t] : tensors) file.tensors.push_back(to_entry(name, t));  // map: sorted
  return file;
}

}  // namespace lethe
