// libFuzzer target for configuration files (src/config/config.cpp): a workspace's config.toml
// and any --config file are TOML written by hand. Any input must load or be rejected with
// lethe::Error; what loads must write back (config_to_toml) to TOML that loads to the same
// configuration.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/common/error.h"
#include "src/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lethe::Config config;
  try {
    lethe::load_config_text(text, "fuzz.toml", config);
  } catch (const lethe::Error&) {
    return 0;
  }
  // Outside the try: what loaded must survive a write/read round trip.
  lethe::Config again;
  lethe::load_config_text(lethe::config_to_toml(config), "fuzz-rewritten.toml", again);
  if (!(again == config)) __builtin_trap();
  return 0;
}
