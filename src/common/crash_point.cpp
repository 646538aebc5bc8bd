#include "src/common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace lethe {

void crash_point(const char* name) {
  const char* target = std::getenv("LETHE_CRASH_AT");
  if (target && std::strcmp(target, name) == 0) ::kill(::getpid(), SIGKILL);
}

}  // namespace lethe
