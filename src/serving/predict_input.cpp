#include "src/serving/predict_input.h"

#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/data/tokenizer.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

PredictRequests parse_predict_requests(Workspace& ws, std::string_view text, const std::string& source) {
  PredictRequests out = parse_predict_lines(text, source, workspace_data_shape(ws));
  RecordBatch& b = out.batch;
  if (get_meta(ws.db, "data.tokenizer").value_or("") == "sentencepiece" && b.size() > 0) {
    const std::string file = get_meta(ws.db, "tokenizer.file").value_or("");
    const fs::path path = ws.root / file;
    if (file.empty() || hash_file(path) != get_meta(ws.db, "tokenizer.hash").value_or("")) {
      fail(ErrorKind::kIntegrity, "tokenizer model '{}' is missing or does not match its hash in the index", path.string());
    }
    encode_sentencepiece(b, read_file(path));
  }
  return out;
}

}  // namespace lethe
