// The one error type of Lethe. Every failure a user can cause or see is an Error with a
// category; the category decides the process exit code (docs/cli.md lists them).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace lethe {

enum class ErrorKind {
  kUsage,      // bad command line or configuration
  kInput,      // bad input data (files being ingested, ID lists, ...)
  kIntegrity,  // a stored artifact is missing, corrupt or fails verification
  kNotFound,   // a named thing (workspace, record, request) does not exist
  kConflict,   // the workspace is held by another writer, or the target already exists
  kTimeout,    // ranks of an mpirun job waited too long for each other (runtime.collective_timeout)
  kInternal,   // a bug or an unexpected system failure
};

// Exit codes are part of the CLI contract: scripts branch on them.
int exit_code(ErrorKind kind);
const char* kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// fail(kind, "format {}", args...) throws an Error; keeps call sites to one line.
template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

// Throws kInternal with the errno text for a failed system call on `path`.
[[noreturn]] void fail_errno(const std::string& what, const std::string& path);

}  // namespace lethe
