// A test that cannot run here says so instead of passing. Catch2 2.13 has no SKIP: the test
// warns "SKIP: <why>" and returns, and ctest reports it as skipped, not passed
// (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt); run directly, the warning is printed.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>

#define LETHE_SKIP(why)          \
  do {                           \
    WARN("SKIP: " << why);       \
    return;                      \
  } while (false)

// The interop tests need the project's venv (scripts/install-deps.sh), whose Python runs the
// Hugging Face libraries they compare with; LETHE_PYTHON is its path (tests/CMakeLists.txt).
#define LETHE_SKIP_WITHOUT_VENV()                                                                   \
  do {                                                                                              \
    if (!std::filesystem::exists(LETHE_PYTHON))                                                     \
      LETHE_SKIP("no venv Python at " << LETHE_PYTHON << " (scripts/install-deps.sh makes it)");    \
  } while (false)

