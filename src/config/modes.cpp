#include "src/config/modes.h"

#include "src/common/error.h"

namespace lethe {

const ModeTraits* find_mode(const std::string& name) {
  for (const ModeTraits& t : kModeTable) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

Mode parse_mode(const std::string& name) {
  if (const ModeTraits* t = find_mode(name)) return t->mode;
  fail(ErrorKind::kUsage, "unknown training mode '{}': expected {}", name, mode_list());
}

const ModeTraits& mode_traits(const std::string& name) { return traits(parse_mode(name)); }

std::vector<std::string> mode_names() {
  std::vector<std::string> out;
  for (const ModeTraits& t : kModeTable) out.push_back(t.name);
  return out;
}

std::string mode_list() {
  std::string out;
  for (size_t i = 0; i < std::size(kModeTable); ++i) {
    out += i == 0 ? "" : i + 1 == std::size(kModeTable) ? " or " : ", ";
    out += kModeTable[i].name;
  }
  return out;
}

}  // namespace lethe
