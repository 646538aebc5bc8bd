// The unit and e2e tests' main: the same CPU numerics as `lethe` (src/common/platform.h).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "src/common/platform.h"

int main(int argc, char** argv) {
  lethe::pin_cpu_numerics();
  return Catch::Session().run(argc, argv);
}
