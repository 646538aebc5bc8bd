// Prediction requests: JSONL, one record per line, in the workspace's payload kind:
//   text      {"id": "q1", "text": "..."}      (tokenized as the workspace's data was)
//   image     {"id": "q1", "image": [784 pixel values 0..255]}   (row-major, side x side)
//   features  {"id": "q1", "features": [numbers]}
// "id" is optional (default: the line number) and echoed in the answer. The lines are parsed
// here without a workspace (so the parser can be fuzzed alone); predict_input.h adds the
// workspace's shape and tokenizer.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "src/data/records.h"
#include "src/models/model_spec.h"

namespace lethe {

struct PredictRequests {
  RecordBatch batch;                 // one record per request, label 0
  std::vector<nlohmann::json> ids;   // as given
};

// The requests in `text` for data of `shape` (text payloads as raw bytes, not yet tokenized).
// ErrorKind::kInput naming `source` and the line for malformed JSON, a missing or mistyped
// payload field, an image of the wrong size or a feature vector of the wrong length, or a
// feature that is not a finite 32-bit number. Empty lines are skipped.
PredictRequests parse_predict_lines(std::string_view text, const std::string& source, const DataShape& shape);

// The same requests as a JSON array (an HTTP body's `field`); errors name "field[i]". An input
// without "id" gets its index.
PredictRequests parse_predict_inputs(const nlohmann::json& inputs, const std::string& field, const DataShape& shape);

}  // namespace lethe
