#include "src/common/error.h"

#include <cerrno>
#include <cstring>

namespace lethe {

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return 2;
    case ErrorKind::kInput: return 3;
    case ErrorKind::kIntegrity: return 4;
    case ErrorKind::kNotFound: return 5;
    case ErrorKind::kConflict: return 6;
    case ErrorKind::kTimeout: return 75;  // EX_TEMPFAIL: a rerun resumes
    case ErrorKind::kInternal: return 70;
  }
  return 70;
}

const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return "usage";
    case ErrorKind::kInput: return "input";
    case ErrorKind::kIntegrity: return "integrity";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

void fail_errno(const std::string& what, const std::string& path) {
  const int err = errno;
  // A missing file is the caller's problem to name; everything else is a system failure.
  const ErrorKind kind = err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal;
  throw Error(kind, fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

}  // namespace lethe
