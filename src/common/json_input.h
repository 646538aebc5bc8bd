// Reading small JSON files that users supply (a model directory's config.json, tokenizer.json,
// ...): a size cap checked before reading, and typed fields whose absence gives a default and
// whose wrong type is ErrorKind::kInput naming the file and field, never a library exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "src/common/fs.h"

namespace lethe {

// The bytes of `path`, or kInput when it cannot be read or holds more than `max_bytes`.
std::string read_input_file(const fs::path& path, uintmax_t max_bytes);
// The same, parsed; kInput naming the file when it is not valid JSON.
nlohmann::json read_json_input(const fs::path& path, uintmax_t max_bytes);

// Field `name` of object `j` (`where` names it in errors): `fallback` when absent or null.
std::string json_string(const nlohmann::json& j, const char* name, const std::string& where, const std::string& fallback);
bool json_bool(const nlohmann::json& j, const char* name, const std::string& where, bool fallback);
std::optional<bool> json_optional_bool(const nlohmann::json& j, const char* name, const std::string& where);

}  // namespace lethe
