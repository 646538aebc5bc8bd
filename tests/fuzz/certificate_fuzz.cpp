// libFuzzer target for checking deletion certificates (src/audit/certificate_check.cpp): a
// regulator or data owner runs `lethe audit verify-certificate` on a file from anywhere. Any
// input must give a list of problems (or none) without throwing, crashing or reading out of
// bounds. The key is fixed, so signatures never verify; every later check still runs.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/audit/certificate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string key = [] {
    if (sodium_init() < 0) std::abort();
    return std::string(32, '\x5a');
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)lethe::check_certificate(text, key);  // an exception escaping is a finding
  return 0;
}
