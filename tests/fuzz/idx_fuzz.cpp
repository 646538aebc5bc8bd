// libFuzzer target for the IDX reader (src/data/idx_file.cpp) behind the Fashion-MNIST source:
// gzip or plain, a header of big-endian counts, then the items. The first byte chooses what
// is expected (0: labels; 1: 28x28 images, as Fashion-MNIST; else 2x3 images, so that whole
// items are easy to reach); the rest is the file. Any input must read or be rejected with
// lethe::Error, never allocate from a count the file does not hold.
#include <cstddef>
#include <cstdint>

#include "src/common/error.h"
#include "src/data/idx_file.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int kind = data[0] % 3;
  const uint32_t magic = kind == 0 ? lethe::kIdxLabelsMagic : lethe::kIdxImagesMagic;
  const std::vector<uint32_t> dims = kind == 0 ? std::vector<uint32_t>{}
                                     : kind == 1 ? std::vector<uint32_t>{28, 28}
                                                 : std::vector<uint32_t>{2, 3};
  const auto path = lethe::fuzz::write_scratch("data.idx", data + 1, size - 1);
  try {
    const lethe::Idx idx = lethe::read_idx(path, magic, dims);
    uint64_t item = 1;
    for (uint32_t d : dims) item *= d;
    if (idx.data.size() != idx.count * item) __builtin_trap();
  } catch (const lethe::Error&) {
  }
  return 0;
}
