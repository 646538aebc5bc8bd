#include "shards/deletion_priors.h"

#include <cmath>
#include <cstdlib>

#include "src/common/error.h"
#include "src/data/source_util.h"

namespace lethe {

std::map<std::string, double> read_owner_priors(const fs::path& path) {
  InputFile in(path);
  std::map<std::string, double> priors;
  size_t line_no = 0;
  for (std::string_view raw; in.read_line(raw);) {
    const std::string_view line = trim_ascii(raw);
    ++line_no;
    if (line.empty()) continue;
    if (line_no == 1 && line == "owner,probability") continue;
    const size_t comma = line.rfind(',');
    const std::string where = fmt::format("{}:{}", path.string(), line_no);
    if (comma == std::string_view::npos || comma == 0) {
      fail(ErrorKind::kInput, "{}: expected 'owner,probability'", where);
    }
    const std::string owner(trim_ascii(line.substr(0, comma)));
    const std::string value(trim_ascii(line.substr(comma + 1)));
    char* stop = nullptr;
    const double p = std::strtod(value.c_str(), &stop);
    if (value.empty() || *stop != '\0' || !(p >= 0.0 && p <= 1.0)) {
      fail(ErrorKind::kInput, "{}: probability '{}' of owner '{}' is not a number in [0, 1]", where, value, owner);
    }
    if (!priors.emplace(owner, p).second) fail(ErrorKind::kInput, "{}: owner '{}' is listed twice", where, owner);
  }
  return priors;
}

std::vector<std::vector<double>> slice_deletion_probabilities(
    const std::vector<std::pair<std::string, int32_t>>& owner_cells,
    const std::map<std::string, double>& priors, double default_prior, int shards, int slices) {
  // Summing log(1 - p) keeps the product exact enough for thousands of owners per slice.
  std::vector<double> log_survival(static_cast<size_t>(shards * slices), 0.0);
  for (const auto& [owner, cell] : owner_cells) {
    const auto it = priors.find(owner);
    const double p = it == priors.end() ? default_prior : it->second;
    log_survival[static_cast<size_t>(cell)] += std::log1p(-std::min(p, 1.0));
  }
  std::vector<std::vector<double>> out(static_cast<size_t>(shards), std::vector<double>(static_cast<size_t>(slices)));
  for (int s = 0; s < shards; ++s) {
    for (int l = 0; l < slices; ++l) {
      out[static_cast<size_t>(s)][static_cast<size_t>(l)] = -std::expm1(log_survival[static_cast<size_t>(s * slices + l)]);
    }
  }
  return out;
}

}  // namespace lethe
