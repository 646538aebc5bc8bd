// Lethe's configuration: one plain struct per TOML section, validated when loaded.
// Precedence, lowest first: built-in defaults, the workspace's lethe.toml, --config FILE,
// --set key=value, dedicated flags (--threads, --log-level). docs/config.md is generated from
// the same field table (`lethe config docs`), so code and documentation cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/fs.h"

namespace lethe {

struct RuntimeConfig {
  int64_t threads = 0;            // 0 = one per core
  std::string log_level = "info";
};

struct Config {
  RuntimeConfig runtime;
};

// Overlays the keys present in a TOML file onto `config`. Every error (syntax, unknown key,
// wrong type, value out of range) is ErrorKind::kUsage naming the file, line and key, and what
// was expected. On error `config` is left unchanged.
void load_config_file(const fs::path& path, Config& config);
void load_config_text(std::string_view text, const std::string& source, Config& config);

// Applies one "section.key=value" override; the value is TOML (bare words are taken as strings).
void apply_config_override(std::string_view assignment, Config& config);

// The complete resolved configuration as TOML, every key present, with its documentation as
// comments. Loading the result gives back the same Config.
std::string config_to_toml(const Config& config);

// Markdown reference of every section and key with type, default, allowed values and meaning.
std::string config_reference_markdown();

bool operator==(const Config& a, const Config& b);

}  // namespace lethe
