// Writes a few valid safetensors files, made by serialize_safetensors, as a fuzzing seed corpus:
//   safetensors_fuzz_seeds DIR
#include <cstdio>
#include <string>

#include "checkpoints/safetensors.h"

using lethe::DType;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const lethe::fs::path dir = argv[1];
  lethe::fs::create_directories(dir);
  lethe::SafetensorsFile one;  // one F32 tensor, metadata
  one.tensors.push_back({"w", DType::kF32, {2}, std::string("\0\0\x80\x3f\0\0\0\x40", 8)});
  one.metadata["format"] = "pt";
  lethe::write_safetensors(dir / "seed-f32.safetensors", one);

  lethe::SafetensorsFile mixed;  // several dtypes, a scalar, an empty tensor, BOOL
  mixed.tensors.push_back({"a.bias", DType::kBF16, {}, std::string("\x80\x3f", 2)});
  mixed.tensors.push_back({"a.weight", DType::kI64, {1, 1}, std::string(8, '\x01')});
  mixed.tensors.push_back({"empty", DType::kF16, {0, 3}, ""});
  mixed.tensors.push_back({"mask", DType::kBool, {3}, std::string("\x01\x00\x01", 3)});
  lethe::write_safetensors(dir / "seed-mixed.safetensors", mixed);

  lethe::write_safetensors(dir / "seed-empty.safetensors", lethe::SafetensorsFile{});
  return 0;
}
