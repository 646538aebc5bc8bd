#include "src/unlearning/membership_inference.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "src/index/lineage_index.h"
#include "src/index/record_sets.h"
#include "src/common/error.h"
#include "src/ingest/ingest.h"
#include "src/serving/ensemble.h"
#include "src/trainers/workspace_data.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

// Per record, the cross-entropy against the stored label: of the ensemble (mean logits), and
// of each member.
struct Losses {
  std::vector<double> ensemble;
  std::vector<std::vector<double>> member;  // [member][record]
};

std::vector<double> nll_of(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor nll = -torch::log_softmax(logits.to(torch::kFloat64), -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1);
  const at::Tensor c = nll.contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

Losses losses(const Comm& comm, const Ensemble& e, const RecordBatch& batch, const std::vector<uint32_t>& rows) {
  Losses out;
  out.member.resize(e.members.size());
  if (rows.empty()) return out;
  const EnsembleOutputs o = run_ensemble(comm, e, batch, rows, Combine::kMean, false);
  if (!comm.is_root()) return out;
  out.ensemble = nll_of(o.logits, o.labels);
  for (size_t m = 0; m < e.members.size(); ++m) out.member[m] = nll_of(o.member_logits[static_cast<int64_t>(m)], o.labels);
  return out;
}

// Appends `more` (one batch's losses) to `all`.
void append(Losses& all, const Losses& more) {
  all.ensemble.insert(all.ensemble.end(), more.ensemble.begin(), more.ensemble.end());
  all.member.resize(more.member.size());
  for (size_t m = 0; m < more.member.size(); ++m) all.member[m].insert(all.member[m].end(), more.member[m].begin(), more.member[m].end());
}

// The member serving `shard`, or -1.
int member_of(const Ensemble& e, int shard) {
  for (size_t m = 0; m < e.members.size(); ++m) {
    if (e.members[m].shard == shard && shard >= 0) return static_cast<int>(m);
  }
  return -1;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

MiaGroup summary(const std::vector<double>& l) { return {static_cast<int64_t>(l.size()), mean(l)}; }

// At most `cap` of `rows`, evenly spread.
std::vector<uint32_t> spread(const std::vector<uint32_t>& rows, size_t cap) {
  if (rows.size() <= cap) return rows;
  std::vector<uint32_t> out;
  for (size_t i = 0; i < cap; ++i) out.push_back(rows[i * rows.size() / cap]);
  return out;
}

// The deleted train records as the data source still holds them, labels mapped to the
// workspace's label values, and the shard each came from.
RecordBatch deleted_from_source(Workspace& ws, const Config& config, MiaReport& report, std::vector<int>& shard_of) {
  std::unordered_map<std::string, int> deleted;  // keyed name -> shard
  for (const auto& [id, shard] : deleted_train_ids(ws.db)) deleted[id] = shard;
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
    const auto d = deleted.find(keyed_name(ws.audit, src.records.ids.at(i)));
    if (d == deleted.end()) continue;
    const std::string& name = src.label_names.at(static_cast<size_t>(src.records.labels[i]));
    const auto it = label_value.find(name);
    if (it == label_value.end()) {
      fail(ErrorKind::kInput, "{}: record '{}' has label '{}', which the workspace does not know", src.description,
           src.records.ids.at(i), name);
    }
    out.append_from(src.records, i);
    out.labels.back() = it->second;
    shard_of.push_back(d->second);
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

std::optional<double> own_shard_auc(const std::vector<std::vector<double>>& losses, const std::vector<int>& own,
                                    const std::vector<double>& centre) {
  double wins = 0, pairs = 0;
  for (size_t r = 0; r < own.size(); ++r) {
    if (own[r] < 0) continue;
    const auto k = static_cast<size_t>(own[r]);
    const double mine = losses[k][r] - centre[k];
    for (size_t j = 0; j < losses.size(); ++j) {
      if (j == k) continue;
      const double theirs = losses[j][r] - centre[j];
      wins += mine < theirs ? 1.0 : mine == theirs ? 0.5 : 0.0;
      pairs += 1;
    }
  }
  if (pairs == 0) return std::nullopt;
  return wins / pairs;
}

MiaReport membership_inference(Workspace& ws, const Config& config, const std::string& mode, const Comm& comm,
                               int64_t max_records) {
  MiaReport report;
  const Ensemble e = load_ensemble(ws, config, mode);
  const size_t cap = static_cast<size_t>(std::max<int64_t>(1, max_records));

  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const Losses test_l = losses(comm, e, test, spread(live_rows(ws.db, test_slice.slice_id), cap));

  // Retained: live train records, evenly spread over the slices, each with its shard's member.
  Losses retained_l;
  std::vector<int> retained_own;
  std::vector<SliceRow> train;
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == "train") train.push_back(s);
  }
  for (const SliceRow& s : train) {
    const RecordBatch b = read_verified_slice(ws, s);
    const Losses l = losses(comm, e, b, spread(live_rows(ws.db, s.slice_id), std::max<size_t>(1, cap / train.size())));
    append(retained_l, l);
    retained_own.insert(retained_own.end(), l.ensemble.size(), member_of(e, s.shard));
  }

  std::vector<int> deleted_shard;
  const RecordBatch deleted = deleted_from_source(ws, config, report, deleted_shard);
  std::vector<uint32_t> rows = spread([&] {
    std::vector<uint32_t> all(deleted.size());
    std::iota(all.begin(), all.end(), 0u);
    return all;
  }(), cap);
  const Losses deleted_l = losses(comm, e, deleted, rows);
  std::vector<int> deleted_own;
  for (size_t i = 0; i < deleted_l.ensemble.size(); ++i) deleted_own.push_back(member_of(e, deleted_shard[rows[i]]));

  report.deleted = summary(deleted_l.ensemble);
  report.retained = summary(retained_l.ensemble);
  report.test = summary(test_l.ensemble);
  report.deleted_vs_test = membership_auc(deleted_l.ensemble, test_l.ensemble);
  report.retained_vs_test = membership_auc(retained_l.ensemble, test_l.ensemble);
  if (comm.is_root() && e.members.size() > 1) {
    std::vector<double> centre;
    for (const auto& m : test_l.member) centre.push_back(mean(m));
    report.deleted_own_shard = own_shard_auc(deleted_l.member, deleted_own, centre);
    report.retained_own_shard = own_shard_auc(retained_l.member, retained_own, centre);
    report.deleted_own_shard_records = std::count_if(deleted_own.begin(), deleted_own.end(), [](int m) { return m >= 0; });
  }
  return report;
}

}  // namespace lethe
