#include "src/unlearning/membership_inference.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <unordered_map>

#include "shards/lineage_index.h"
#include "src/common/error.h"
#include "src/ingest/ingest.h"
#include "src/serving/ensemble.h"
#include "src/trainers/workspace_data.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

// Per record, the ensemble's cross-entropy (mean logits) against the stored label.
std::vector<double> losses(const Comm& comm, const Ensemble& e, const RecordBatch& batch,
                           const std::vector<uint32_t>& rows) {
  if (rows.empty()) return {};
  const EnsembleOutputs o = run_ensemble(comm, e, batch, rows, Combine::kMean, false);
  if (!comm.is_root()) return {};
  const at::Tensor nll = -torch::log_softmax(o.logits.to(torch::kFloat64), -1)
                              .gather(1, o.labels.unsqueeze(1))
                              .squeeze(1);
  return std::vector<double>(nll.data_ptr<double>(), nll.data_ptr<double>() + nll.numel());
}

MiaGroup summary(const std::vector<double>& l) {
  MiaGroup g;
  g.records = static_cast<int64_t>(l.size());
  g.mean_loss = l.empty() ? 0 : std::accumulate(l.begin(), l.end(), 0.0) / static_cast<double>(l.size());
  return g;
}

// At most `cap` of `rows`, evenly spread.
std::vector<uint32_t> spread(const std::vector<uint32_t>& rows, size_t cap) {
  if (rows.size() <= cap) return rows;
  std::vector<uint32_t> out;
  for (size_t i = 0; i < cap; ++i) out.push_back(rows[i * rows.size() / cap]);
  return out;
}

// The deleted train records as the data source still holds them, labels mapped to the
// workspace's label values.
RecordBatch deleted_from_source(Workspace& ws, const Config& config, MiaReport& report) {
  std::set<std::string> deleted;
  Stmt q = ws.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND r.status = 1");
  while (q.step()) deleted.insert(q.text(0));
  if (deleted.empty()) return {};
  if (ws.audit.id_secret.empty()) {
    fail(ErrorKind::kUsage, "'{}' cannot be read: deleted records are known only by their keyed IDs, and finding "
         "them in the data source needs the workspace's ID secret", audit_key_file(ws.root).string());
  }
  const LoadedSource src = load_source(config.data);
  report.source = src.description;
  std::unordered_map<std::string, int32_t> label_value;
  const std::vector<std::string> names = label_names(ws.db);
  for (size_t i = 0; i < names.size(); ++i) label_value[names[i]] = static_cast<int32_t>(i);
  RecordBatch out = RecordBatch::like(src.records);
  size_t found = 0;
  for (size_t i = 0; i < src.records.size(); ++i) {
    // The index keeps deleted records under their keyed names only.
    if (!deleted.count(keyed_name(ws.audit, src.records.ids.at(i)))) continue;
    const std::string& name = src.label_names.at(static_cast<size_t>(src.records.labels[i]));
    const auto it = label_value.find(name);
    if (it == label_value.end()) {
      fail(ErrorKind::kInput, "{}: record '{}' has label '{}', which the workspace does not know", src.description,
           src.records.ids.at(i), name);
    }
    out.append_from(src.records, i);
    out.labels.back() = it->second;
    ++found;
  }
  report.deleted_missing = static_cast<int64_t>(deleted.size() - found);
  return out;
}

}  // namespace

std::optional<double> membership_auc(const std::vector<double>& members, const std::vector<double>& outsiders) {
  if (members.empty() || outsiders.empty()) return std::nullopt;
  // Rank all losses together, ties sharing the mean rank; U counts outsider-above-member pairs.
  std::vector<std::pair<double, int>> all;
  for (double l : members) all.push_back({l, 0});
  for (double l : outsiders) all.push_back({l, 1});
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double member_rank_sum = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ranks i+1..j
    for (size_t k = i; k < j; ++k) {
      if (all[k].second == 0) member_rank_sum += rank;
    }
    i = j;
  }
  const double m = static_cast<double>(members.size()), n = static_cast<double>(outsiders.size());
  const double u_members_above = member_rank_sum - m * (m + 1) / 2;  // pairs where member loss > outsider
  return 1.0 - u_members_above / (m * n);
}

MiaReport membership_inference(Workspace& ws, const Config& config, const std::string& mode, const Comm& comm,
                               int64_t max_records) {
  MiaReport report;
  const Ensemble e = load_ensemble(ws, config, mode);
  const size_t cap = static_cast<size_t>(std::max<int64_t>(1, max_records));

  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const std::vector<double> test_l = losses(comm, e, test, spread(live_rows(ws.db, test_slice.slice_id), cap));

  // Retained: live train records, evenly spread over the slices.
  std::vector<double> retained_l;
  std::vector<SliceRow> train;
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == "train") train.push_back(s);
  }
  for (const SliceRow& s : train) {
    const RecordBatch b = read_verified_slice(ws, s);
    const auto l = losses(comm, e, b, spread(live_rows(ws.db, s.slice_id), std::max<size_t>(1, cap / train.size())));
    retained_l.insert(retained_l.end(), l.begin(), l.end());
  }

  const RecordBatch deleted = deleted_from_source(ws, config, report);
  std::vector<uint32_t> rows(deleted.size());
  std::iota(rows.begin(), rows.end(), 0u);
  const std::vector<double> deleted_l = losses(comm, e, deleted, spread(rows, cap));

  report.deleted = summary(deleted_l);
  report.retained = summary(retained_l);
  report.test = summary(test_l);
  report.deleted_vs_test = membership_auc(deleted_l, test_l);
  report.retained_vs_test = membership_auc(retained_l, test_l);
  return report;
}

}  // namespace lethe
