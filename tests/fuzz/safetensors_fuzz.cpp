// libFuzzer target for the safetensors parser (see README.md here). Any input must either parse
// or be rejected with lethe::Error; anything else (a sanitizer report, another exception, a
// crash) is a finding. What parses must also survive a write/read round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "checkpoints/safetensors.h"
#include "src/common/error.h"

namespace {

bool same(const lethe::SafetensorsFile& a, const lethe::SafetensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const lethe::TensorEntry& x = a.tensors[i];
    const lethe::TensorEntry& y = b.tensors[i];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.bytes != y.bytes) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  lethe::SafetensorsFile file;
  try {
    file = lethe::parse_safetensors(bytes, "fuzz-input");
  } catch (const lethe::Error&) {
    return 0;  // rejected cleanly: the expected outcome for most inputs
  }
  // Outside the try: an exception here (serialize refusing what parse accepted) aborts the run.
  const std::string again = lethe::serialize_safetensors(file);
  const lethe::SafetensorsFile back = lethe::parse_safetensors(again, "fuzz-reserialized");
  if (!same(file, back) || lethe::serialize_safetensors(back) != again) __builtin_trap();
  return 0;
}
