// IDX files, the format of (Fashion-)MNIST: a magic number, one big-endian uint32 per
// dimension (the item count first), then the items as unsigned bytes. Read gzipped (as Debian
// ships them) or not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/fs.h"

namespace lethe {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension

struct Idx {
  uint32_t count = 0;
  std::string data;  // count items, each the product of the item dimensions in bytes
};

// `item_dims` are the dimensions after the count (images: 28, 28; labels: none; at most two).
// ErrorKind::kInput naming the file for a wrong magic or dimension, fewer items than the count
// declares (found as the data arrives: memory follows what the file holds, never the count),
// data after the last item, or corrupt gzip data.
Idx read_idx(const fs::path& path, uint32_t magic, const std::vector<uint32_t>& item_dims);

}  // namespace lethe
