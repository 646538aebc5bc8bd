// Prediction requests for a workspace: the lines or JSON inputs parsed as predict_lines.h
// describes, text tokenized as the workspace's data was.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "src/models/model_spec.h"
#include "src/serving/predict_lines.h"
#include "src/workspace/workspace.h"

namespace lethe {

// What turns a request into records for one workspace: its data shape and, for a
// SentencePiece workspace, its tokenizer model (ErrorKind::kIntegrity when the model file is
// missing or does not match its hash). Read once; a service keeps it with its view.
struct RequestDecoder {
  DataShape shape;
  std::string sentencepiece_model;  // empty: texts stay bytes (the model's own tokenizer)

  static RequestDecoder of(Workspace& ws);
  PredictRequests lines(std::string_view text, const std::string& source) const;
  PredictRequests inputs(const nlohmann::json& inputs, const std::string& field) const;

 private:
  PredictRequests encoded(PredictRequests requests) const;
};

// RequestDecoder::of(ws).lines(text, source).
PredictRequests parse_predict_requests(Workspace& ws, std::string_view text, const std::string& source);

}  // namespace lethe
