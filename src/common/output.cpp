#include "src/common/output.h"

#include <nlohmann/json.hpp>

namespace lethe {

void Output::result(const nlohmann::json& result, const std::string& human) const {
  const std::string text = json ? result.dump() : human;
  std::fputs(text.c_str(), stream);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stream);
  std::fflush(stream);
  if (result_file) write_file_atomic(*result_file, result.dump() + "\n");
}

}  // namespace lethe
