// Prediction requests: JSONL, one record per line, in the workspace's payload kind:
//   text      {"id": "q1", "text": "..."}      (tokenized as the workspace's data was)
//   image     {"id": "q1", "image": [784 pixel values 0..255]}   (row-major, side x side)
//   features  {"id": "q1", "features": [numbers]}
// "id" is optional (default: the line number) and echoed in the answer.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "src/data/records.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct PredictRequests {
  RecordBatch batch;                 // one record per request, label 0
  std::vector<nlohmann::json> ids;   // as given
};

// ErrorKind::kInput naming `source` and the line for malformed JSON, a missing or mistyped
// payload field, an image of the wrong size or a feature vector of the wrong length. Empty
// lines are skipped.
PredictRequests parse_predict_requests(Workspace& ws, std::string_view text, const std::string& source);

}  // namespace lethe
