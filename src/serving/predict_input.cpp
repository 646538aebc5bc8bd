#include "src/serving/predict_input.h"

#include "src/common/error.h"
#include "src/data/tokenizer.h"
#include "src/workspace/tokenizer_store.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

RequestDecoder RequestDecoder::of(Workspace& ws) {
  RequestDecoder d;
  d.shape = workspace_data_shape(ws);
  if (uses_sentencepiece(ws)) d.sentencepiece_model = workspace_tokenizer(ws);
  return d;
}

PredictRequests RequestDecoder::encoded(PredictRequests requests) const {
  if (!sentencepiece_model.empty() && requests.batch.size() > 0) encode_sentencepiece(requests.batch, sentencepiece_model);
  return requests;
}

PredictRequests RequestDecoder::lines(std::string_view text, const std::string& source) const {
  return encoded(parse_predict_lines(text, source, shape));
}

PredictRequests RequestDecoder::inputs(const nlohmann::json& inputs, const std::string& field) const {
  return encoded(parse_predict_inputs(inputs, field, shape));
}

PredictRequests parse_predict_requests(Workspace& ws, std::string_view text, const std::string& source) {
  return RequestDecoder::of(ws).lines(text, source);
}

}  // namespace lethe
