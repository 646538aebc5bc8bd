// The bridge between safetensors entries and LibTorch tensors. Kept apart from safetensors.h so
// that the parser stays torch-free (and cheap to fuzz). torch::Tensor is at::Tensor; the light
// ATen header is enough here.
#pragma once

#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include "checkpoints/safetensors.h"

namespace lethe {

// A contiguous CPU copy of `tensor`'s bytes. An undefined tensor or a dtype safetensors cannot
// hold here (complex, unsigned wider than 8 bits, ...) is ErrorKind::kInternal.
TensorEntry to_entry(const std::string& name, const at::Tensor& tensor);

// A CPU tensor owning its memory, bit-identical to `entry.bytes`.
at::Tensor to_tensor(const TensorEntry& entry);

std::map<std::string, at::Tensor> to_tensors(const SafetensorsFile& file);
SafetensorsFile from_tensors(const std::map<std::string, at::Tensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {});

}  // namespace lethe
