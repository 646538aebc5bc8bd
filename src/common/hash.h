// Content hashes: BLAKE2b-256 (libsodium), as lowercase hex. Slice files, checkpoints and the
// base model are identified by the hash of their bytes.
#pragma once

#include <string>
#include <string_view>

#include "src/common/fs.h"

namespace lethe {

std::string blake2b_hex(std::string_view bytes);
// Streams the file; ErrorKind::kNotFound if it is missing.
std::string hash_file(const fs::path& path);

}  // namespace lethe
