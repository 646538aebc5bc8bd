#include "src/unlearning/mentions.h"

#include "src/index/lineage_index.h"
#include "src/common/error.h"
#include "src/data/tokenizer.h"
#include "src/trainers/workspace_data.h"
#include "src/workspace/tokenizer_store.h"

namespace lethe {

std::vector<Mention> records_mentioning(Workspace& ws, const std::string& needle) {
  if (needle.empty()) fail(ErrorKind::kUsage, "the text to find is empty");
  const std::string kind = get_meta(ws.db, "data.payload_kind").value_or("");
  if (kind != "text") {
    fail(ErrorKind::kUsage, "workspace '{}' holds {} payloads; finding text needs text records", ws.root.string(),
         kind.empty() ? "no" : kind);
  }
  const std::string model = uses_sentencepiece(ws) ? workspace_tokenizer(ws) : "";
  std::vector<Mention> out;
  for (const SliceRow& s : list_slices(ws.db)) {
    RecordBatch batch = read_verified_slice(ws, s);
    if (!model.empty()) decode_sentencepiece(batch, model);
    for (uint32_t row : live_rows(ws.db, s.slice_id)) {
      if (batch.payloads.at(row).find(needle) == std::string_view::npos) continue;
      out.push_back({std::string(batch.ids.at(row)), std::string(batch.owners.at(row)), s.kind, s.shard, s.slice});
    }
  }
  return out;
}

}  // namespace lethe
