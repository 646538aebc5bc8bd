// Durable file-system primitives. Every write of data, checkpoints or the index goes through
// these: write to a temporary name in the same directory, fsync, rename, fsync the directory.
// A crash at any point leaves either the old file or the new one, never a torn mix.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace lethe {

namespace fs = std::filesystem;

// Temporary sibling name for `path`, unique to this process: "<dir>/.<name>.tmp.<pid>".
// Leftovers from crashed processes match is_temp_name() and are removed by recovery.
fs::path temp_sibling(const fs::path& path);
bool is_temp_name(const fs::path& path);

void fsync_path(const fs::path& path);  // file or directory
void fsync_parent(const fs::path& path);

// Renames `from` onto `to` and makes the rename durable (fsyncs `from` first, then the parent).
void commit_rename(const fs::path& from, const fs::path& to);

// Atomically replaces `path` with `bytes`. `mode` is the new file's permission bits.
void write_file_atomic(const fs::path& path, std::string_view bytes, unsigned mode = 0644);

// Reads a whole file; a missing file is ErrorKind::kNotFound naming the path.
std::string read_file(const fs::path& path);

}  // namespace lethe
