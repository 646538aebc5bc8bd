#include "src/common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "src/common/error.h"

namespace lethe {

namespace {

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write", path.string());
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

fs::path temp_sibling(const fs::path& path) {
  return path.parent_path() / fmt::format(".{}.tmp.{}", path.filename().string(), ::getpid());
}

bool is_temp_name(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos;
}

void fsync_path(const fs::path& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail_errno("cannot open for fsync", path.string());
  if (::fsync(f.fd) != 0) fail_errno("cannot fsync", path.string());
}

void fsync_parent(const fs::path& path) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fsync_path(parent);
}

void commit_rename(const fs::path& from, const fs::path& to, unsigned mode) {
  {
    Fd f;
    f.fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) fail_errno("cannot open for fsync", from.string());
    if (::fchmod(f.fd, mode) != 0) fail_errno("cannot set the permissions of", from.string());
    if (::fsync(f.fd) != 0) fail_errno("cannot fsync", from.string());
  }
  if (::rename(from.c_str(), to.c_str()) != 0) fail_errno("cannot rename to", to.string());
  fsync_parent(to);
}

void write_file_atomic(const fs::path& path, std::string_view bytes, unsigned mode) {
  const fs::path tmp = temp_sibling(path);
  {
    Fd f;
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (f.fd < 0) fail_errno("cannot create", tmp.string());
    try {
      if (::fchmod(f.fd, mode) != 0) fail_errno("cannot set the permissions of", tmp.string());
      write_all(f.fd, bytes, tmp);
      if (::fsync(f.fd) != 0) fail_errno("cannot fsync", tmp.string());
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail_errno("cannot rename to", path.string());
  }
  fsync_parent(path);
}

void create_private_directory(const fs::path& dir) {
  fs::create_directories(dir);
  if (::chmod(dir.c_str(), kPrivateDirMode) != 0) fail_errno("cannot set the permissions of", dir.string());
}

unsigned permission_bits(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail_errno("cannot stat", path.string());
  return static_cast<unsigned>(st.st_mode) & 0777u;
}

std::string read_file(const fs::path& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail_errno("cannot open", path.string());
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot read", path.string());
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace lethe
