#include "src/unlearning/deletion_replay.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>

#include "src/index/lineage_index.h"
#include "src/index/record_sets.h"
#include "src/index/workspace_plan.h"
#include "shards/plan.h"
#include "shards/live_view.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/serving/ensemble.h"
#include "src/serving/serving_view.h"
#include "src/trainers/train_run.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

// The deletion requests: each a list of (shard, slice) cells, one entry per record.
std::vector<std::vector<std::pair<int, int>>> draw_requests(Workspace& ws, const ReplayOptions& o) {
  const std::vector<LiveTrainRecord> records = live_train_records(ws.db);
  std::vector<std::vector<std::pair<int, int>>> out;
  if (o.distribution == "uniform") {
    std::vector<size_t> order(records.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    deterministic_shuffle(order, o.seed);
    for (size_t i = 0; i < order.size() && static_cast<int64_t>(out.size()) < o.requests; ++i) {
      out.push_back({{records[order[i]].shard, records[order[i]].slice}});
    }
  } else if (o.distribution == "owner") {
    std::map<std::string, std::vector<std::pair<int, int>>> by_owner;
    for (const LiveTrainRecord& r : records) by_owner[r.owner].push_back({r.shard, r.slice});
    std::vector<const std::vector<std::pair<int, int>>*> owners;
    for (const auto& [name, cells] : by_owner) owners.push_back(&cells);
    deterministic_shuffle(owners, o.seed);
    for (size_t i = 0; i < owners.size() && static_cast<int64_t>(out.size()) < o.requests; ++i) out.push_back(*owners[i]);
  } else {
    fail(ErrorKind::kUsage, "--distribution '{}': expected uniform or owner for a replay", o.distribution);
  }
  if (static_cast<int64_t>(out.size()) < o.requests) {
    fail(ErrorKind::kUsage, "--deletions {} is more than the {} live train {} of the workspace", o.requests,
         out.size(), o.distribution == "owner" ? "owners" : "records");
  }
  return out;
}

// One member per node on a live prefix now (the chain that ends at it), in the order the serving
// rule reaches them; `member_of` maps the node (shard, name) to its member index.
struct NodeMembers {
  IndexLiveView now;
  View view;
  std::map<std::pair<int, std::string>, int> member_of;
};

NodeMembers node_members(Workspace& ws, const std::string& mode) {
  NodeMembers nm;
  nm.now = live_in_index(ws, mode, false);
  nm.view.mode = mode;
  nm.view.total_shards = static_cast<int>(nm.now.rule.shards.size());
  for (const ShardLive& s : nm.now.rule.shards) {
    for (size_t b = 0; b < s.chains.size(); ++b) {
      for (int n = 0; n < s.live_prefix[b]; ++n) {
        const NodeRef& node = s.chains[b][static_cast<size_t>(n)];
        const int member = static_cast<int>(nm.view.live.size());
        if (!nm.member_of.emplace(std::make_pair(node.shard, node.name), member).second) continue;
        nm.view.live.push_back({s.shard, static_cast<int>(b), nm.now.rows(s.chains[b], n + 1)});
      }
    }
  }
  return nm;
}

bool touches(const Sequence& prefix, const std::set<int>& hit) {
  for (int l : prefix) {
    if (hit.count(l)) return true;
  }
  return false;
}

}  // namespace

std::string accuracy_basis(const std::string& mode) {
  const ModeTraits* t = find_mode(mode);
  return t && t->replay == ReplayAccuracy::kBeforeDeletions ? "before_deletions" : "served";
}

ReplayResult replay_deletions(Workspace& ws, const Config& config, const ReplayOptions& o, const Comm& comm) {
  if (o.requests < 1) fail(ErrorKind::kUsage, "--deletions must be at least 1 for a replay, not {}", o.requests);
  if (o.batches < 1 || o.batches > o.requests) {
    fail(ErrorKind::kUsage, "--batches must be between 1 and --deletions ({}), not {}", o.requests, o.batches);
  }
  ReplayResult result;
  result.distribution = o.distribution;
  const auto requests = draw_requests(ws, o);
  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const std::vector<uint32_t> rows = live_rows(ws.db, test_slice.slice_id);
  result.test_records = static_cast<int64_t>(rows.size());

  // Live records per cell, and the points (request counts) to measure at.
  std::map<std::pair<int, int>, double> cell_live;
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == "train") cell_live[{s.shard, s.slice}] = static_cast<double>(s.live);
  }
  std::vector<int64_t> points = {0};
  for (int64_t b = 1; b <= o.batches; ++b) points.push_back(o.requests * b / o.batches);
  const double epochs = static_cast<double>(config.train.epochs_per_stage);

  for (const ModeTraits& t : kModeTable) {
    // dp2 has no curve: its DP base survives deletions by its privacy bound, not by switching
    // nodes off, which is all the replay models (ReplayAccuracy::kNotReplayed).
    if (t.replay == ReplayAccuracy::kNotReplayed) continue;
    const std::string mode = t.name;
    if (!has_recorded_sequences(ws.db, mode)) continue;
    NodeMembers nm = node_members(ws, mode);
    ReplayCurve curve;
    curve.mode = mode;
    if (nm.view.live.empty()) continue;  // nothing of this mode serves now
    const Ensemble e = load_view(ws, config, nm.view);
    const EnsembleOutputs out = run_ensemble(comm, e, test, rows, Combine::kMean, false);
    if (!comm.is_root()) continue;

    std::map<int, std::set<int>> hit;  // per shard, the slices deletions reached
    std::map<std::pair<int, int>, double> deleted;
    int64_t done = 0, records = 0;
    std::vector<int64_t> records_at;
    for (int64_t point : points) {
      for (; done < point; ++done) {
        for (const auto& cell : requests[static_cast<size_t>(done)]) {
          hit[cell.first].insert(cell.second);
          deleted[cell] += 1;
          ++records;
        }
      }
      records_at.push_back(records);
      const auto left = [&](int shard, const Sequence& prefix) {  // records a retrained node sees
        double n = 0;
        for (int l : prefix) n += cell_live[{shard, l}] - deleted[{shard, l}];
        return n;
      };
      std::vector<int64_t> serving;  // member indices
      double cost = 0;
      if (t.replay == ReplayAccuracy::kBeforeDeletions) {
        serving.push_back(0);  // the model before any deletion: accuracy_basis(mode)
        if (records > 0) {
          for (const auto& [cell, n] : cell_live) cost += (n - deleted[cell]) * epochs;
        }
      } else {
        // The serving rule with what would be live: live now and touching no slice hit so far.
        const LiveView after = live_view(t.mode, nm.now.rule.sequences, [&](const NodeRef& n) {
          const auto h = hit.find(n.shard);
          return nm.now.components.count({n.shard, n.name}) > 0 && !(h != hit.end() && touches(n.prefix, h->second));
        }, false);
        for (const ShardLive& s : after.shards) {
          for (const NodeRef& n : s.dirty()) cost += left(n.shard, n.prefix) * epochs;
          if (s.serving < 0) continue;
          const NodeRef& last = s.chains[static_cast<size_t>(s.serving)][static_cast<size_t>(s.serving_length) - 1];
          serving.push_back(nm.member_of.at({last.shard, last.name}));
        }
      }
      curve.live_shards.push_back(static_cast<int>(serving.size()));
      curve.retrain_samples.push_back(cost);
      if (serving.empty() || rows.empty()) {
        curve.accuracy.push_back(std::nan(""));
        continue;
      }
      const at::Tensor idx = torch::tensor(serving, torch::kInt64);
      const at::Tensor logits = out.member_logits.index_select(0, idx).mean(0);
      curve.accuracy.push_back(logits.argmax(-1).eq(out.labels).to(torch::kFloat64).mean().item<double>());
    }
    result.records = records_at;
    result.curves.push_back(std::move(curve));
  }
  if (result.curves.empty() && comm.is_root()) {
    fail(ErrorKind::kNotFound, "no trained model serves in '{}': run 'lethe train' first", ws.root.string());
  }
  result.requests = points;
  return result;
}

nlohmann::json replay_to_json(const ReplayResult& r) {
  nlohmann::json curves = nlohmann::json::array();
  for (const ReplayCurve& c : r.curves) {
    nlohmann::json acc = nlohmann::json::array();
    for (double a : c.accuracy) acc.push_back(std::isnan(a) ? nlohmann::json(nullptr) : nlohmann::json(a));
    curves.push_back({{"mode", c.mode}, {"accuracy", acc}, {"accuracy_basis", accuracy_basis(c.mode)},
                      {"live_shards", c.live_shards}, {"retrain_samples", c.retrain_samples}});
  }
  return {{"distribution", r.distribution}, {"requests", r.requests}, {"records", r.records},
          {"test_records", r.test_records}, {"curves", curves}};
}

namespace {

// Readers for one field of a saved replay, each checking the type and range before converting
// (a float too large for an integer is undefined behaviour to convert): the report indexes
// these lists by point, so a short or mistyped one is refused here, naming it.
[[noreturn]] void malformed(const std::string& field, const char* expected) {
  fail(ErrorKind::kIntegrity, "field '{}' must be {}", field, expected);
}

const nlohmann::json& member(const nlohmann::json& j, const std::string& field, const std::string& where) {
  const auto it = j.find(field);
  if (it == j.end()) fail(ErrorKind::kIntegrity, "no field '{}{}'", where, field);
  return *it;
}

std::vector<int64_t> count_list(const nlohmann::json& v, const std::string& field) {
  if (!v.is_array()) malformed(field, "an array of counts");
  std::vector<int64_t> out;
  for (const auto& x : v) {
    // An unsigned value above INT64_MAX reads as negative: refused with the rest.
    if (!x.is_number_integer() || x.get<int64_t>() < 0) malformed(field, "an array of counts");
    out.push_back(x.get<int64_t>());
  }
  return out;
}

std::vector<double> number_list(const nlohmann::json& v, const std::string& field, double max, bool null_ok,
                                 const char* expected) {
  if (!v.is_array()) malformed(field, expected);
  std::vector<double> out;
  for (const auto& x : v) {
    if (null_ok && x.is_null()) {
      out.push_back(std::nan(""));
    } else if (x.is_number() && x.get<double>() >= 0 && x.get<double>() <= max) {
      out.push_back(x.get<double>());
    } else {
      malformed(field, expected);
    }
  }
  return out;
}

template <typename T>
void same_length(const std::vector<T>& v, size_t points, const std::string& field) {
  if (v.size() != points) {
    fail(ErrorKind::kIntegrity, "field '{}' has {} values but 'requests' has {}", field, v.size(), points);
  }
}

}  // namespace

ReplayResult replay_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail(ErrorKind::kIntegrity, "expected a JSON object");
  ReplayResult r;
  const nlohmann::json& distribution = member(j, "distribution", "");
  if (!distribution.is_string()) malformed("distribution", "a string");
  r.distribution = distribution.get<std::string>();
  r.requests = count_list(member(j, "requests", ""), "requests");
  if (r.requests.empty()) malformed("requests", "a non-empty array of counts");
  const size_t points = r.requests.size();
  r.records = count_list(member(j, "records", ""), "records");
  same_length(r.records, points, "records");
  const nlohmann::json& test_records = member(j, "test_records", "");
  if (!test_records.is_number_integer() || test_records.get<int64_t>() < 0) malformed("test_records", "a count");
  r.test_records = test_records.get<int64_t>();
  const nlohmann::json& curves = member(j, "curves", "");
  if (!curves.is_array()) malformed("curves", "an array");
  for (size_t i = 0; i < curves.size(); ++i) {
    const nlohmann::json& c = curves[i];
    const std::string where = fmt::format("curves[{}].", i);
    if (!c.is_object()) malformed("curves[" + std::to_string(i) + "]", "an object");
    ReplayCurve curve;
    const nlohmann::json& mode = member(c, "mode", where);
    if (!mode.is_string()) malformed(where + "mode", "a string");
    curve.mode = mode.get<std::string>();
    curve.accuracy = number_list(member(c, "accuracy", where), where + "accuracy", 1.0, true,
                                 "an array of accuracies in [0, 1] or null");
    same_length(curve.accuracy, points, where + "accuracy");
    for (int64_t n : count_list(member(c, "live_shards", where), where + "live_shards")) {
      if (n > INT32_MAX) malformed(where + "live_shards", "an array of shard counts");
      curve.live_shards.push_back(static_cast<int>(n));
    }
    same_length(curve.live_shards, points, where + "live_shards");
    curve.retrain_samples = number_list(member(c, "retrain_samples", where), where + "retrain_samples",
                                        std::numeric_limits<double>::max(), false, "an array of numbers >= 0");
    same_length(curve.retrain_samples, points, where + "retrain_samples");
    r.curves.push_back(std::move(curve));
  }
  return r;
}

ReplayResult read_replay(const fs::path& path) {
  try {
    return replay_from_json(nlohmann::json::parse(read_file(path)));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kIntegrity, "{}: not a deletion replay (not valid JSON: {}); remove it or run 'lethe "
         "simulate --with-eval' to write a new one", path.string(), e.what());
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kIntegrity) throw;
    fail(ErrorKind::kIntegrity, "{}: not a deletion replay ({}); remove it or run 'lethe simulate --with-eval' "
         "to write a new one", path.string(), e.what());
  }
}

}  // namespace lethe
