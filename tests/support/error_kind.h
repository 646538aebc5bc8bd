// The kind of the lethe::Error a call throws, for tests of failures: the test fails when the
// call throws nothing.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "src/common/error.h"

namespace lethe::test {

// `message`, when given, receives the error's text.
inline ErrorKind kind_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  FAIL("expected an error");
  return ErrorKind::kInternal;
}

}  // namespace lethe::test
