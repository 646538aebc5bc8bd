// One request's answer as `lethe predict` prints it and `lethe serve` returns it: the
// ensemble's label and probability, and with per_shard each live shard's own, with the node
// its chain ends at (its stages' slice order, e.g. "2.0": the component that answered).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "src/serving/ensemble.h"

namespace lethe {

// Row `row` of `outputs` (from run_ensemble over `ensemble`), answering the request `id`.
nlohmann::json prediction_answer(const nlohmann::json& id, const EnsembleOutputs& outputs, const Ensemble& ensemble,
                                 const std::vector<std::string>& labels, int64_t row, bool per_shard);

}  // namespace lethe
