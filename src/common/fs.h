// Durable file-system primitives. Every write of data, checkpoints or the index goes through
// these: write to a temporary name in the same directory, fsync, rename, fsync the directory.
// A crash at any point leaves either the old file or the new one, never a torn mix.
//
// Workspace files hold personal data, so what these write is private by default: files 0600 in
// directories 0700, set with chmod, not left to the caller's umask.
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

// The permission bits of what these functions write: owner only.
inline constexpr unsigned kPrivateFileMode = 0600;
inline constexpr unsigned kPrivateDirMode = 0700;

// Renames `from` onto `to` and makes the rename durable (sets `from` to `mode` and fsyncs it
// first, then the parent).
void commit_rename(const fs::path& from, const fs::path& to, unsigned mode = kPrivateFileMode);

// Atomically replaces `path` with `bytes`. `mode` is the new file's permission bits, exactly
// (the umask does not apply).
void write_file_atomic(const fs::path& path, std::string_view bytes, unsigned mode = kPrivateFileMode);

// Creates `dir` (and missing parents) if needed, and sets it to mode 0700.
void create_private_directory(const fs::path& dir);

// The permission bits of `path` (mode & 0777; follows symlinks), and those of them that let
// group or others in.
unsigned permission_bits(const fs::path& path);
inline constexpr unsigned kSharedBits = 077;

// Reads a whole file; a missing file is ErrorKind::kNotFound naming the path.
std::string read_file(const fs::path& path);

}  // namespace lethe
