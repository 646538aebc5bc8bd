// Prediction requests for a workspace: the lines parsed as predict_lines.h describes, text
// tokenized as the workspace's data was.
#pragma once

#include <string>
#include <string_view>

#include "src/serving/predict_lines.h"
#include "src/workspace/workspace.h"

namespace lethe {

// parse_predict_lines with the workspace's data shape; then, for a SentencePiece workspace, the
// texts are encoded with its tokenizer (ErrorKind::kIntegrity when the model file is missing or
// does not match its hash).
PredictRequests parse_predict_requests(Workspace& ws, std::string_view text, const std::string& source);

}  // namespace lethe
