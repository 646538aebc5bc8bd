#include "src/common/json_input.h"

#include "src/common/error.h"

namespace lethe {

std::string read_input_file(const fs::path& path, uintmax_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail(ErrorKind::kInput, "{}: cannot read: {}", path.string(), ec.message());
  if (size > max_bytes) {
    fail(ErrorKind::kInput, "{}: {} bytes, more than such a file should be ({} at most)", path.string(), size,
         max_bytes);
  }
  return read_file(path);
}

nlohmann::json read_json_input(const fs::path& path, uintmax_t max_bytes) {
  try {
    return nlohmann::json::parse(read_input_file(path, max_bytes));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kInput, "{}: not valid JSON: {}", path.string(), e.what());
  }
}

namespace {

const nlohmann::json* present(const nlohmann::json& j, const char* name) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

std::string json_string(const nlohmann::json& j, const char* name, const std::string& where, const std::string& fallback) {
  const nlohmann::json* v = present(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_string()) fail(ErrorKind::kInput, "{}: field '{}' must be a string, got {}", where, name, v->dump());
  return v->get<std::string>();
}

bool json_bool(const nlohmann::json& j, const char* name, const std::string& where, bool fallback) {
  const nlohmann::json* v = present(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) fail(ErrorKind::kInput, "{}: field '{}' must be true or false, got {}", where, name, v->dump());
  return v->get<bool>();
}

std::optional<bool> json_optional_bool(const nlohmann::json& j, const char* name, const std::string& where) {
  if (present(j, name) == nullptr) return std::nullopt;
  return json_bool(j, name, where, false);
}

}  // namespace lethe
