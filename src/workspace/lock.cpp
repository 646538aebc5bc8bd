#include "src/workspace/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "src/common/clock.h"
#include "src/common/error.h"

namespace lethe {

namespace {

std::string describe_holder(int fd) {
  char buf[4096];
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return "another process";
  try {
    const auto j = nlohmann::json::parse(std::string(buf, static_cast<size_t>(n)));
    return fmt::format("PID {} ({}, since {})", j.at("pid").get<long>(),
                       j.at("command").get<std::string>(), j.at("since").get<std::string>());
  } catch (const nlohmann::json::exception&) {
    return "another process";  // the holder is between truncate and write
  }
}

}  // namespace

WorkspaceLock WorkspaceLock::acquire(const fs::path& lock_path, const std::string& command) {
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kPrivateFileMode);
  if (fd < 0) fail_errno("cannot open lock file", lock_path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = describe_holder(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      fail(ErrorKind::kConflict, "workspace '{}' is locked by {}; wait for it to finish",
           lock_path.parent_path().string(), holder);
    }
    errno = err;
    fail_errno("cannot lock", lock_path.string());
  }
  // Record who holds the lock, for the message other processes print.
  const std::string info =
      nlohmann::json{{"pid", ::getpid()}, {"command", command}, {"since", utc_timestamp()}}.dump();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, info.data(), info.size(), 0) < 0) {
    ::close(fd);
    fail_errno("cannot write lock file", lock_path.string());
  }
  return WorkspaceLock(fd);
}

WorkspaceLock::~WorkspaceLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace lethe
