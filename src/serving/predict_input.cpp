#include "src/serving/predict_input.h"

#include "src/common/error.h"
#include "src/data/tokenizer.h"
#include "src/workspace/tokenizer_store.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

PredictRequests parse_predict_requests(Workspace& ws, std::string_view text, const std::string& source) {
  PredictRequests out = parse_predict_lines(text, source, workspace_data_shape(ws));
  RecordBatch& b = out.batch;
  if (uses_sentencepiece(ws) && b.size() > 0) encode_sentencepiece(b, workspace_tokenizer(ws));
  return out;
}

}  // namespace lethe
