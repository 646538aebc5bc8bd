// Owner-level deletion priors, turned into the per-slice deletion probabilities that BMS
// sequence selection needs. Deletion requests come from people: an owner who asks to be
// forgotten removes every record they own, so a slice is hit when any of its owners asks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/common/fs.h"

namespace lethe {

// A CSV file of `owner,probability` lines (an optional header line `owner,probability`; the
// last comma separates, so owners may contain commas). ErrorKind::kInput naming the file and
// line for a malformed line, a probability outside [0, 1] or an owner listed twice.
std::map<std::string, double> read_owner_priors(const fs::path& path);

// Per shard, per slice: 1 - prod(1 - p_o) over the owners with records in the slice
// (`owner_cells`: owner -> shard * slices + slice), p_o from `priors` or `default_prior`.
std::vector<std::vector<double>> slice_deletion_probabilities(
    const std::vector<std::pair<std::string, int32_t>>& owner_cells,
    const std::map<std::string, double>& priors, double default_prior, int shards, int slices);

}  // namespace lethe
