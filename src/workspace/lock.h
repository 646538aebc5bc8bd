// The workspace writer lock. One process at a time may change a workspace; others are refused
// with the holder's PID and command. flock(2) is released by the kernel when the holder dies,
// so a kill -9 never leaves a stale lock behind.
#pragma once

#include <string>

#include "src/common/fs.h"

namespace lethe {

class WorkspaceLock {
 public:
  // Takes the lock on `lock_path` without waiting; ErrorKind::kConflict naming the holder if taken.
  // `command` is recorded for the error message another process will print.
  static WorkspaceLock acquire(const fs::path& lock_path, const std::string& command);

  WorkspaceLock(WorkspaceLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  WorkspaceLock(const WorkspaceLock&) = delete;
  WorkspaceLock& operator=(const WorkspaceLock&) = delete;
  WorkspaceLock& operator=(WorkspaceLock&&) = delete;
  ~WorkspaceLock();

 private:
  explicit WorkspaceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace lethe
