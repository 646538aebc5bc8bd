#include "src/trainers/train_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "shards/deletion_priors.h"
#include "src/index/components.h"
#include "src/index/lineage_index.h"
#include "src/index/component_privacy.h"
#include "src/index/record_sets.h"
#include "src/index/training_history.h"
#include "src/index/workspace_plan.h"
#include "shards/work_assignment.h"
#include "src/common/clock.h"
#include "src/common/crash_point.h"
#include "src/common/device.h"
#include "src/common/error.h"
#include "src/config/modes.h"
#include "src/privacy/dp_schedule.h"
#include "src/trainers/data_parallel.h"
#include "src/trainers/node_training.h"

namespace lethe {

namespace {

constexpr int kCommitTag = 17;  // node records and the final "done", from ranks > 0 to rank 0

// A crash point's mode part: none for the default mode (train.before_commit.s0.p0), else
// "sisa." etc., so that tests name the node they stop at.
std::string crash_tag(const std::string& mode) { return parse_mode(mode) == kDefaultMode ? "" : mode + "."; }

int64_t max_record_id(Db& db) {
  return max_rid(db);
}

// A trained node as rank 0 commits it: everything the index records.
nlohmann::json commit_record(const NodeSpec& node, const WrittenNode& written, const SliceData& data,
                             const TrainedNode& trained) {
  nlohmann::json seen = nlohmann::json::array();
  for (int l : node.prefix) {
    const SliceRow& s = data.slices[static_cast<size_t>(l)];
    seen.push_back({{"slice_id", s.slice_id}, {"hash", s.hash}});
  }
  nlohmann::json r = {{"type", "node"}, {"kind", node.kind}, {"shard", node.shard}, {"prefix", node.name},
                      {"file", written.file}, {"hash", written.hash}, {"seen", seen},
                      {"samples", trained.samples}, {"seconds", trained.seconds}};
  const nlohmann::json& metrics = trained.checkpoint.meta.metrics;
  if (metrics.contains("privacy")) r["privacy"] = metrics.at("privacy");
  return r;
}

}  // namespace

void commit_node(Workspace& ws, const nlohmann::json& r, spdlog::logger& log) {
  const std::string kind = r.at("kind"), prefix = r.at("prefix"), file = r.at("file");
  const int shard = r.at("shard");
  std::vector<ComponentRow> retired;
  {
    Transaction txn(ws.db);
    for (const ComponentRow& c : live_components(ws.db, kind)) {
      if (c.shard == shard && c.prefix == prefix) {
        set_component_status(ws.db, c.component_id, "deactivated");
        retired.push_back(c);
      }
    }
    ComponentRow row;
    row.kind = kind;
    row.shard = shard;
    row.prefix = prefix;
    row.file = file;
    row.hash = r.at("hash");
    const int64_t id = insert_component(ws.db, row);
    for (const auto& s : r.at("seen")) add_lineage_edge(ws.db, id, s.at("slice_id"), s.at("hash"));
    record_component_cost(ws.db, id, r.at("samples"), r.at("seconds"));
    nlohmann::json replaced = nlohmann::json::array();
    for (const ComponentRow& c : retired) replaced.push_back({{"component_id", c.component_id}, {"hash", c.hash}});
    nlohmann::json event = {{"component_id", id}, {"kind", kind}, {"shard", shard}, {"prefix", prefix},
                            {"hash", r.at("hash")}, {"seen", r.at("seen")}, {"replaced", replaced}};
    if (r.contains("privacy")) {
      ComponentPrivacy p = component_privacy_from_json(r.at("privacy"));
      p.component_id = id;
      p.requests_seq = last_request_seq(ws.db);
      p.max_rid = max_record_id(ws.db);
      record_component_privacy(ws.db, p);
      event["privacy"] = r.at("privacy");
      event["privacy"]["requests_seq"] = p.requests_seq;
      event["privacy"]["max_rid"] = p.max_rid;
    }
    record_event(ws, "train.node", event);
    txn.commit();
  }
  crash_point(fmt::format("train.after_commit.{}s{}.p{}", crash_tag(kind), shard, prefix).c_str());
  for (const ComponentRow& c : retired) {
    if (c.file == file) continue;
    std::error_code ec;
    fs::remove(ws.root / c.file, ec);  // retired; recovery removes it otherwise
  }
  log.debug("committed {} node {} of shard {}", kind, prefix, shard);
}

namespace {

// The run's single writer (design invariant 5: only rank 0 writes the index). Every other rank
// sends rank 0 each node it trains, as the record commit_node takes, and at its end a "done"
// with its totals; rank 0 commits its own nodes as they finish and the others' whenever it can
// (after each of its nodes and between its optimiser steps), so that a node reaches the index,
// and survives a crash of the run, soon after it is trained, whichever rank trained it. One
// rank's messages arrive in order, so its "done" follows all its nodes.
class NodeCommitter {
 public:
  NodeCommitter(Workspace& ws, const Comm& comm, spdlog::logger& log) : ws_(ws), comm_(comm), log_(log), outbox_(comm) {}

  // A node this rank trained: rank 0 commits it (and what the others sent meanwhile); the
  // others send it to rank 0.
  void commit(const nlohmann::json& record) {
    if (!comm_.is_root()) {
      outbox_.post(0, kCommitTag, record.dump());
      return;
    }
    {
      const Timer t(seconds_);
      commit_node(ws_, record, log_);
    }
    take_messages(false);
  }

  // Rank 0: commits what the other ranks have sent so far, without waiting for more.
  void commit_arrived() { take_messages(false); }

  // Wall seconds spent in commit_node so far (rank 0; not the waiting for messages).
  double seconds() const { return seconds_; }

  // This rank's last word. The others send `mine` and return (nothing) once rank 0 has
  // committed everything; rank 0 commits until every rank is done and returns every rank's
  // totals, by rank.
  std::vector<RankTotals> finish(const RankTotals& mine) {
    if (!comm_.is_root()) {
      nlohmann::json done = rank_totals_json(mine);
      done["type"] = "done";
      outbox_.post(0, kCommitTag, done.dump());
      outbox_.flush();
      barrier(comm_);  // returns once rank 0 has committed everything
      return {};
    }
    std::vector<RankTotals> all = {mine};
    take_messages(true);
    all.front().commit_seconds = seconds_;
    for (const nlohmann::json& d : done_) all.push_back(rank_totals_from_json(d));
    barrier(comm_);
    std::sort(all.begin(), all.end(), [](const RankTotals& a, const RankTotals& b) { return a.rank < b.rank; });
    return all;
  }

 private:
  // Adds the wall time of its scope to a total.
  struct Timer {
    explicit Timer(double& total) : total(total) {}
    ~Timer() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
    double& total;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  };

  // Rank 0: commits the node records other ranks have sent, and keeps their "done" messages
  // (which may arrive during any call). Waits for every rank's "done" when `until_all_done`,
  // else takes only what has already arrived.
  void take_messages(bool until_all_done) {
    const size_t others = static_cast<size_t>(comm_.size - 1);
    while (until_all_done ? done_.size() < others : message_waiting(comm_, kCommitTag)) {
      const nlohmann::json m = nlohmann::json::parse(receive(comm_, kCommitTag).value);
      if (m.at("type") == "done") {
        done_.push_back(m);
      } else {
        const Timer t(seconds_);
        commit_node(ws_, m, log_);
      }
    }
  }

  Workspace& ws_;
  const Comm& comm_;
  spdlog::logger& log_;
  Outbox outbox_;
  std::vector<nlohmann::json> done_;  // rank 0: the other ranks' final totals
  double seconds_ = 0;
};

std::string stage_label(const Comm& comm, const NodeSpec& n) {
  const std::string rank = comm.size > 1 ? fmt::format("rank {}: ", comm.rank) : "";
  switch (parse_mode(n.kind)) {  // no default: a new mode names its nodes here
    case Mode::kFull:
      return rank + "full model";
    case Mode::kDp2:
      return rank + (n.dp ? "DP base" : "deployed model");
    case Mode::kS3t:
    case Mode::kSisa:
      break;
  }
  return fmt::format("{}shard {} stage {} [{}]", rank, n.shard, n.prefix.size(), n.name);
}

}  // namespace

nlohmann::json rank_totals_json(const RankTotals& t, double wall) {
  nlohmann::json j = {{"rank", t.rank}, {"nodes_trained", t.nodes_trained}, {"nodes_reused", t.nodes_reused},
                      {"group_nodes", t.group_nodes}, {"samples", t.samples},
                      {"seconds", {{"train", t.train_seconds}, {"communicate", t.communicate_seconds},
                                   {"commit", t.commit_seconds}, {"wait", t.wait_seconds}}},
                      {"losses", t.losses}};
  if (wall > 0) j["training_share"] = t.train_seconds / wall;
  return j;
}

RankTotals rank_totals_from_json(const nlohmann::json& j) {
  RankTotals t;
  t.rank = j.at("rank");
  t.nodes_trained = j.at("nodes_trained");
  t.nodes_reused = j.at("nodes_reused");
  t.group_nodes = j.at("group_nodes");
  t.samples = j.at("samples");
  const nlohmann::json& s = j.at("seconds");
  t.train_seconds = s.at("train");
  t.communicate_seconds = s.at("communicate");
  t.commit_seconds = s.at("commit");
  t.wait_seconds = s.at("wait");
  t.losses = j.at("losses").get<std::vector<NodeLoss>>();
  return t;
}

void to_json(nlohmann::json& j, const NodeLoss& l) {
  j = {{"kind", l.kind}, {"shard", l.shard}, {"prefix", l.prefix}, {"start_loss", l.start_loss}, {"end_loss", l.end_loss}};
}

void from_json(const nlohmann::json& j, NodeLoss& l) {
  l.kind = j.at("kind");
  l.shard = j.at("shard");
  l.prefix = j.at("prefix");
  l.start_loss = j.at("start_loss");
  l.end_loss = j.at("end_loss");
}

namespace {

std::string live_base_hash(Workspace& ws) {
  const std::vector<ComponentRow> bases = live_components(ws.db, "base");
  if (!bases.empty()) return bases.back().hash;
  if (has_deactivated_component(ws.db, "base")) {
    fail(ErrorKind::kConflict, "the base model of '{}' was switched off because it saw a deleted record; "
         "nothing built on it may serve or be retrained: pretrain a new base ('lethe pretrain') and train again",
         ws.root.string());
  }
  fail(ErrorKind::kNotFound, "workspace '{}' has no base model: run 'lethe pretrain' or 'lethe import-base'",
       ws.root.string());
}

// The privacy units a DP node over every train slice trains on: live train records, or their
// distinct owners (as train_node counts them from the records it loads).
int64_t live_privacy_units(Db& db, const std::string& unit) {
  return live_train_count(db, unit == "owner");
}

// Whether a live node was trained on this node's inputs. A differentially private node (dp2's
// DP base) stays what retraining builds on after its slices lost deleted records or gained new
// ones: the deleted records' influence on it is bounded by its (epsilon, delta), which is the
// point of DP2Unlearning; it must still have seen the same slices.
bool same_inputs(const NodeSpec& node, const std::vector<SeenSlice>& seen, const std::vector<SeenSlice>& now) {
  if (!node.dp) return seen == now;
  return std::equal(seen.begin(), seen.end(), now.begin(), now.end(),
                    [](const SeenSlice& a, const SeenSlice& b) { return a.slice == b.slice; });
}

// Nodes left to train, shallowest first (then by shard), so that a capped run restores the
// first stages of every shard before deeper ones; a parent always precedes its children.
std::vector<int> training_order(const TrainingPlan& plan, const std::vector<bool>& needed) {
  std::vector<int> order;
  for (size_t k = 0; k < plan.nodes.size(); ++k) {
    if (needed[k]) order.push_back(static_cast<int>(k));
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const NodeSpec &x = plan.nodes[static_cast<size_t>(a)], &y = plan.nodes[static_cast<size_t>(b)];
    return std::make_pair(x.prefix.size(), x.shard) < std::make_pair(y.prefix.size(), y.shard);
  });
  return order;
}

}  // namespace

DpSchedule live_dp_schedule(Workspace& ws, const Config& config) {
  return plan_dp_schedule(config.privacy, live_privacy_units(ws.db, config.privacy.unit), config.train.batch_size);
}

RunPlan plan_run(Workspace& ws, const Config& config, const TrainOptions& options) {
  const WorkspacePlan shape = read_plan(ws.db);
  const int shards = shape.shards, slices = shape.slices;
  const std::string& mode = config.train.mode;
  RunPlan run;
  run.base_hash = live_base_hash(ws);
  run.config_hash = training_config_hash(config, run.base_hash);
  PlanSequences given;
  const bool selects = mode_traits(mode).selects_sequences;
  if (options.restore_sequences && selects) given.recorded = recorded_sequences(ws.db, mode);
  if (options.restore_sequences && !selects) (void)recorded_sequences(ws.db, mode);  // trained before?
  if (given.recorded.empty() && !config.train.owner_priors.empty() && selects) {
    given.shard_probabilities = slice_deletion_probabilities(owner_cells(ws.db, slices),
                                                             read_owner_priors(config.train.owner_priors),
                                                             config.train.default_owner_prior, shards, slices);
  }
  const std::vector<SliceRow> all_slices = list_slices(ws.db);
  run.plan = plan_training(mode, shards, slices, config.train, all_slices, given);
  const TrainingPlan& plan = run.plan;
  const size_t n = plan.nodes.size();
  run.kept_hash.assign(n, "");
  run.kept_file.assign(n, "");

  // A live node fits when it was trained on exactly this node's inputs, from the parent this
  // run serves it with (itself kept), on the same base and configuration.
  std::map<std::pair<int, std::string>, ComponentRow> live;
  for (ComponentRow& c : live_components(ws.db, mode)) live[{c.shard, c.prefix}] = std::move(c);
  std::vector<bool> needed(n, true);
  std::map<int, std::vector<SliceRow>> unit_slices;  // by shard (-1: every shard)
  for (size_t k = 0; k < n && !options.from_scratch; ++k) {
    const NodeSpec& node = plan.nodes[k];
    const auto it = live.find({node.shard, node.name});
    if (it == live.end()) continue;
    const std::string parent_hash = node.parent >= 0 ? run.kept_hash[static_cast<size_t>(node.parent)] : "";
    if (node.parent >= 0 && parent_hash.empty()) continue;  // the parent is retrained
    if (!unit_slices.count(node.shard)) unit_slices[node.shard] = train_slice_rows(all_slices, node.shard, shards, slices);
    const NodeCheckpoint old = read_node(ws.root / it->second.file, it->second.hash);
    if (same_inputs(node, old.meta.slices, inputs_of(node, unit_slices[node.shard])) &&
        old.meta.parent_hash == parent_hash && old.meta.base_hash == run.base_hash &&
        old.meta.config_hash == run.config_hash) {
      run.kept_hash[k] = it->second.hash;
      run.kept_file[k] = it->second.file;
      needed[k] = false;
      ++run.nodes_kept;
    }
  }
  // A DP node to train: its schedule (delta against N, a reachable epsilon) is planned now,
  // once for the run and before it writes anything; the node trains under it.
  bool dp_needed = false;
  for (size_t k = 0; k < n; ++k) dp_needed = dp_needed || (needed[k] && plan.nodes[k].dp);
  if (dp_needed && options.plan_dp) run.dp_schedule = live_dp_schedule(ws, config);
  run.to_train.assign(n, false);
  run.max_group = max_ranks_per_node(config.train);
  const std::vector<bool> chosen = options.policy == "service" ? service_nodes(plan, needed) : needed;
  for (int k : training_order(plan, needed)) {
    if (!chosen[static_cast<size_t>(k)] ||
        (options.max_nodes >= 0 && run.nodes_to_train >= options.max_nodes)) {
      ++run.nodes_left;
      continue;
    }
    run.to_train[static_cast<size_t>(k)] = true;
    ++run.nodes_to_train;
    run.cost_to_train += plan.nodes[static_cast<size_t>(k)].cost;
  }
  return run;
}

namespace {

// Fills in a schedule's loads from its owners and group sizes.
void account(RunSchedule& s) {
  s.rank_load.assign(static_cast<size_t>(s.ranks), 0.0);
  for (size_t u = 0; u < s.owner.size(); ++u) {
    for (int r : unit_ranks(s, u)) s.rank_load[static_cast<size_t>(r)] += s.unit_cost[u] / s.group_size[u];
  }
  s.total = s.makespan = 0;
  s.idle_ranks = 0;
  for (double load : s.rank_load) {
    s.total += load;
    s.makespan = std::max(s.makespan, load);
    s.idle_ranks += load == 0;
  }
  s.lower_bound = s.total / static_cast<double>(s.ranks);
}

// Units given groups of their own (`sizes`, in unit order, from rank 0 on), the rest spread
// whole over the remaining ranks, the costliest first to the least loaded. Units with nothing
// to train sit on rank 0 (which counts their kept nodes).
RunSchedule with_groups(const RunSchedule& base, const std::vector<int>& sizes) {
  RunSchedule s = base;
  s.group_size.assign(s.unit_cost.size(), 1);
  s.owner.assign(s.unit_cost.size(), 0);
  int next = 0;
  std::vector<double> rest(s.unit_cost.size(), 0.0);
  for (size_t u = 0; u < s.unit_cost.size(); ++u) {
    if (sizes[u] > 0) {
      s.owner[u] = next;
      s.group_size[u] = sizes[u];
      next += sizes[u];
    } else {
      rest[u] = s.unit_cost[u];
    }
  }
  if (next < s.ranks) {
    const std::vector<int> lpt = assign_by_cost(rest, s.ranks - next);
    for (size_t u = 0; u < s.unit_cost.size(); ++u) {
      if (sizes[u] == 0 && rest[u] > 0) s.owner[u] = next + lpt[u];
    }
  }
  account(s);
  return s;
}

}  // namespace

// Up to three candidates, the shortest kept (ties: the earlier): every unit whole on one rank;
// with more ranks than units, a group for every unit (spare ranks one at a time to the unit
// with the most work per rank); and the units heavier than total / R in groups of their own
// sized to bring them near it, the rest whole on the other ranks.
RunSchedule schedule_run(const RunPlan& run, int ranks) {
  const TrainingPlan& plan = run.plan;
  RunSchedule s;
  s.ranks = std::max(1, ranks);
  for (const WorkUnit& u : plan.units) {
    double c = 0;
    for (int k : u.nodes) c += run.to_train[static_cast<size_t>(k)] ? plan.nodes[static_cast<size_t>(k)].cost : 0;
    s.unit_cost.push_back(c);
  }
  s.group_size.assign(s.unit_cost.size(), 1);
  s.owner = assign_by_cost(s.unit_cost, s.ranks);
  account(s);
  if (run.max_group <= 1) return s;
  std::vector<size_t> working;  // units with something to train
  for (size_t u = 0; u < s.unit_cost.size(); ++u) {
    if (s.unit_cost[u] > 0) working.push_back(u);
  }
  RunSchedule best = s;
  const auto consider = [&](const RunSchedule& c) {
    if (c.makespan < best.makespan) best = c;
  };
  if (s.ranks > static_cast<int>(working.size())) {
    std::vector<int> sizes(s.unit_cost.size(), 0);
    for (size_t u : working) sizes[u] = 1;
    for (int spare = s.ranks - static_cast<int>(working.size()); spare > 0; --spare) {
      size_t pick = sizes.size();
      double most = 0;
      for (size_t u : working) {
        const double share = s.unit_cost[u] / sizes[u];
        if (sizes[u] < run.max_group && share > most) pick = u, most = share;
      }
      if (pick == sizes.size()) break;
      ++sizes[pick];
    }
    consider(with_groups(s, sizes));
  }
  const double target = s.total / static_cast<double>(s.ranks);
  std::vector<int> sizes(s.unit_cost.size(), 0);
  int taken = 0;
  bool light = false;
  for (size_t u : working) {
    if (s.unit_cost[u] > target) {
      sizes[u] = std::min(run.max_group, static_cast<int>(std::ceil(s.unit_cost[u] / target)));
      taken += sizes[u];
    } else {
      light = true;
    }
  }
  if (taken > 0 && (taken < s.ranks || (taken == s.ranks && !light))) consider(with_groups(s, sizes));
  return best;
}

std::vector<int> unit_ranks(const RunSchedule& s, size_t u) {
  std::vector<int> ranks;
  for (int r = 0; r < s.group_size[u]; ++r) ranks.push_back(s.owner[u] + r);
  return ranks;
}

TrainReport train_model(Workspace& ws, const Comm& comm, const Config& config, const TrainOptions& options,
                        const ProgressOptions& progress, spdlog::logger& log) {
  return train_planned(ws, comm, config, options, plan_run(ws, config, options), progress, log);
}

namespace {

// Rank 0, before any node: records the sequences and retires live nodes that no sequence uses
// any more (the selection changed): nothing unused stays live.
void record_plan(Workspace& ws, const Comm& comm, const std::string& mode, const TrainOptions& options,
                 const RunPlan& run, spdlog::logger& log) {
  const TrainingPlan& plan = run.plan;
  std::set<std::pair<int, std::string>> planned;
  for (const NodeSpec& n : plan.nodes) planned.insert({n.shard, n.name});
  std::vector<ComponentRow> unused;
  Transaction txn(ws.db);
  const nlohmann::json recorded = record_sequences(ws.db, mode, plan.sequences);
  nlohmann::json retired = nlohmann::json::array();
  for (const ComponentRow& c : live_components(ws.db, mode)) {
    if (planned.count({c.shard, c.prefix})) continue;
    set_component_status(ws.db, c.component_id, "deactivated");
    unused.push_back(c);
    retired.push_back({{"component_id", c.component_id}, {"hash", c.hash}});
  }
  record_event(ws, "train.plan", {{"command", options.command}, {"mode", mode}, {"ranks", comm.size},
                                  {"base_hash", run.base_hash}, {"config_hash", run.config_hash},
                                  {"sequences", recorded}, {"nodes_to_train", run.nodes_to_train},
                                  {"nodes_kept", run.nodes_kept}, {"retired", retired}});
  txn.commit();
  for (const ComponentRow& c : unused) {
    std::error_code ec;
    fs::remove(ws.root / c.file, ec);  // recovery removes it otherwise
    log.info("retired {} node {} of shard {}: no sequence uses it any more", mode, c.prefix, c.shard);
  }
}

// The rank group this rank trains in: with groups (some unit has several ranks) every rank
// takes part in the split, and a rank belongs to the group of the one unit of several ranks it
// is in (a schedule gives such a unit its ranks alone), or to none; without, every unit is one
// rank's and no communicator is made.
RankGroup rank_group_of(const Comm& comm, const RunSchedule& schedule, double timeout) {
  const bool grouped = std::any_of(schedule.group_size.begin(), schedule.group_size.end(), [](int g) { return g > 1; });
  if (!grouped) return RankGroup();
  std::vector<int> members;  // of the one unit of several ranks that holds this rank, if any
  for (size_t u = 0; u < schedule.owner.size(); ++u) {
    const std::vector<int> ranks = unit_ranks(schedule, u);
    if (ranks.size() > 1 && std::count(ranks.begin(), ranks.end(), comm.rank)) members = ranks;
  }
  return RankGroup::split(comm, members, timeout);
}

// Trains the nodes of this rank's units (those whose group holds it) and, on each unit's
// leader, hands each to `committer` as it is written; returns this rank's totals.
RankTotals train_units(Workspace& ws, const Comm& comm, NodeTrainingContext ctx, const RunPlan& run,
                       const RunSchedule& schedule, const WorkspacePlan& shape, NodeCommitter& committer,
                       spdlog::logger& log) {
  const TrainingPlan& plan = run.plan;
  const std::string& mode = ctx.config->train.mode;
  RankGroup group = rank_group_of(comm, schedule, ctx.config->runtime.collective_timeout);
  // This rank's units, grouped by shard so that one shard's slices are loaded at a time.
  std::vector<size_t> mine;
  for (size_t u = 0; u < plan.units.size(); ++u) {
    const std::vector<int> ranks = unit_ranks(schedule, u);
    if (std::count(ranks.begin(), ranks.end(), comm.rank)) mine.push_back(u);
  }
  std::stable_sort(mine.begin(), mine.end(), [&](size_t a, size_t b) {
    return plan.nodes[static_cast<size_t>(plan.units[a].nodes.front())].shard <
           plan.nodes[static_cast<size_t>(plan.units[b].nodes.front())].shard;
  });

  RankTotals totals;
  totals.rank = comm.rank;
  // Kept nodes serve as ancestors as they are; trained ones are filled in as they commit.
  std::vector<std::string> node_hash = run.kept_hash, node_file = run.kept_file;
  int loaded_shard = -2;
  SliceData data;
  for (size_t u : mine) {
    const bool leader = schedule.owner[u] == comm.rank, shared = schedule.group_size[u] > 1;
    ctx.group = shared ? &group : nullptr;
    for (int k : plan.units[u].nodes) {
      const NodeSpec& node = plan.nodes[static_cast<size_t>(k)];
      if (!run.to_train[static_cast<size_t>(k)]) {
        if (!run.kept_hash[static_cast<size_t>(k)].empty() && leader) ++totals.nodes_reused;
        continue;
      }
      if (node.shard != loaded_shard) {
        data = load_train_slices(ws, node.shard, shape.shards, shape.slices);
        loaded_shard = node.shard;
      }
      const std::string parent_hash = node.parent >= 0 ? node_hash[static_cast<size_t>(node.parent)] : "";

      std::vector<AncestorRef> ancestors;  // parent first
      for (int a = node.parent; a >= 0; a = plan.nodes[static_cast<size_t>(a)].parent) {
        ancestors.push_back({node_file[static_cast<size_t>(a)], node_hash[static_cast<size_t>(a)],
                             plan.nodes[static_cast<size_t>(a)].group});
      }
      const double exchanged = group.seconds(), committed = committer.seconds();
      const TrainedNode trained = train_node(ctx, node, ancestors, parent_hash, data, stage_label(comm, node));
      const double communicate = group.seconds() - exchanged, commit = committer.seconds() - committed;
      totals.train_seconds += trained.seconds - communicate - commit;
      totals.group_nodes += shared;
      WrittenNode written;
      if (leader) {
        written = write_node(ws.root, trained.checkpoint);
        // Crash points name the node, so that a test can stop the run at any node.
        crash_point(fmt::format("train.before_commit.{}s{}.p{}", crash_tag(mode), node.shard, node.name).c_str());
        committer.commit(commit_record(node, written, data, trained));
        ++totals.nodes_trained;
        totals.losses.push_back({node.kind, node.shard, node.name, trained.start_loss, trained.end_loss});
        totals.samples += trained.samples;
        log.info("{} node {} of shard {}: {} records, final loss {:.4f}, {:.1f} s", mode, node.name, node.shard,
                 trained.checkpoint.meta.metrics.at("records").get<int64_t>(),
                 trained.checkpoint.meta.metrics.at("final_loss").get<double>(), trained.seconds);
      }
      if (shared) {  // the members build the next node on the file the leader wrote
        const nlohmann::json w = nlohmann::json::parse(
            group.broadcast(nlohmann::json({{"file", written.file}, {"hash", written.hash}}).dump(),
                            "hand-over of node " + node.name));
        written.file = w.at("file");
        written.hash = w.at("hash");
      }
      node_hash[static_cast<size_t>(k)] = written.hash;
      node_file[static_cast<size_t>(k)] = written.file;
    }
  }
  totals.communicate_seconds = group.seconds();  // every exchange of the run, the hand-overs too
  return totals;
}

// Rank 0, after every node is committed: the run's row in the training history and its ledger
// entry, in one transaction.
void record_run(Workspace& ws, const TrainingRunRow& row) {
  Transaction txn(ws.db);
  insert_training_run(ws.db, row);
  record_event(ws, "train.run", {{"command", row.command}, {"mode", row.mode}, {"ranks", row.ranks},
                                 {"requests_seq", row.requests_seq}, {"nodes_trained", row.nodes_trained},
                                 {"nodes_reused", row.nodes_reused}, {"nodes_pending", row.nodes_pending},
                                 {"samples", row.samples}});
  txn.commit();
}

}  // namespace

// Four phases: every rank assigns the units to ranks; rank 0 records the plan; every rank
// trains its units, rank 0 committing every node (NodeCommitter); rank 0 sums the ranks'
// totals and records the run.
TrainReport train_planned(Workspace& ws, const Comm& comm, const Config& config, const TrainOptions& options,
                          const RunPlan& run, const ProgressOptions& progress, spdlog::logger& log) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string started_at = utc_timestamp();
  const int64_t requests_seq = last_request_seq(ws.db);
  const std::string& mode = config.train.mode;
  const TrainingPlan& plan = run.plan;  // the same on every rank (see the barrier)
  const ComputeDevice device = select_device(config.runtime.device, config.runtime.precision);
  log.debug("rank {} trains on {}", comm.rank, device.describe());
  const BaseModel base = load_base(ws, device.device);
  if (base.hash != run.base_hash) fail(ErrorKind::kInternal, "the base changed while planning");
  const WorkspacePlan shape = read_plan(ws.db);
  group_of_layer(0, static_cast<int>(base.spec.num_layers), plan.groups);  // validates the partition

  const RunSchedule schedule = schedule_run(run, comm.size);
  if (comm.is_root() && comm.size > 1 && schedule.idle_ranks > 0) {
    log.warn("{} of {} ranks have nothing to train: {} work unit{} to train{}", schedule.idle_ranks, comm.size,
             std::count_if(schedule.unit_cost.begin(), schedule.unit_cost.end(), [](double c) { return c > 0; }),
             run.plan.units.size() == 1 ? "" : "s",
             run.max_group > 1 ? fmt::format(", each shared by at most {} ranks (train.batch_size / train.micro_batch)", run.max_group)
                               : "; set train.micro_batch below train.batch_size to let several ranks share a unit's steps");
  }
  // Every rank has planned from the same committed state before rank 0 commits anything.
  barrier(comm);
  if (comm.is_root()) record_plan(ws, comm, mode, options, run, log);

  NodeCommitter committer(ws, comm, log);
  NodeTrainingContext ctx;
  ctx.ws = &ws;
  ctx.base = &base;
  ctx.config = &config;
  ctx.groups = plan.groups;
  ctx.config_hash = run.config_hash;
  ctx.dp_schedule = run.dp_schedule ? &*run.dp_schedule : nullptr;
  ctx.device = device;
  ctx.progress = progress;
  if (comm.is_root() && comm.size > 1) ctx.between_steps = [&] { committer.commit_arrived(); };
  RankTotals totals = train_units(ws, comm, ctx, run, schedule, shape, committer, log);

  TrainReport report;
  report.mode = mode;
  report.shards = shape.shards;
  report.nodes = static_cast<int>(plan.nodes.size());
  report.stages_without_sharing = plan.stages_without_sharing;
  report.sequences = plan.sequences;
  report.nodes_left = run.nodes_left;
  report.ranks = committer.finish(totals);
  if (!comm.is_root()) return report;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (RankTotals& t : report.ranks) {
    t.wait_seconds = std::max(0.0, report.seconds - t.train_seconds - t.communicate_seconds - t.commit_seconds);
  }
  for (const RankTotals& t : report.ranks) {
    report.nodes_trained += t.nodes_trained;
    report.nodes_reused += t.nodes_reused;
    report.samples += t.samples;
    report.node_losses.insert(report.node_losses.end(), t.losses.begin(), t.losses.end());
  }
  std::sort(report.node_losses.begin(), report.node_losses.end(), [](const NodeLoss& a, const NodeLoss& b) {
    return std::tie(a.shard, a.prefix, a.kind) < std::tie(b.shard, b.prefix, b.kind);
  });
  TrainingRunRow row;
  row.command = options.command;
  row.mode = mode;
  row.started_at = started_at;
  row.ranks = comm.size;
  row.requests_seq = requests_seq;
  row.nodes_trained = report.nodes_trained;
  row.nodes_reused = report.nodes_reused;
  row.nodes_pending = report.nodes_left;
  row.samples = report.samples;
  row.seconds = report.seconds;
  record_run(ws, row);
  return report;
}

}  // namespace lethe
