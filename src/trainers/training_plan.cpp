#include "src/trainers/training_plan.h"

#include <algorithm>

#include "shards/prefix_tree.h"
#include "src/common/error.h"
#include "src/config/modes.h"

namespace lethe {

namespace {

// Live records of every train slice, by (shard, slice).
std::map<std::pair<int, int>, double> live_counts(const std::vector<SliceRow>& slices) {
  std::map<std::pair<int, int>, double> out;
  for (const SliceRow& s : slices) {
    if (s.kind == "train") out[{s.shard, s.slice}] = static_cast<double>(s.live);
  }
  return out;
}

double prefix_records(int shard, const Sequence& prefix, const std::map<std::pair<int, int>, double>& live) {
  double n = 0;
  for (int l : prefix) {
    const auto it = live.find({shard, l});
    n += it == live.end() ? 0 : it->second;
  }
  return n;
}

// A shard's recorded sequences, checked against the plan's shape (the index could be older
// than the plan only through a bug, so this is an integrity error).
std::vector<Sequence> recorded_for(const std::map<int, std::vector<Sequence>>& recorded, int shard, int slices) {
  const auto it = recorded.find(shard);
  if (it == recorded.end() || it->second.empty()) {
    fail(ErrorKind::kIntegrity, "the recorded sequences name no sequence for shard {}", shard);
  }
  for (const Sequence& s : it->second) {
    Sequence sorted = s;
    std::sort(sorted.begin(), sorted.end());
    for (int l = 0; l < slices; ++l) {
      if (sorted.size() != static_cast<size_t>(slices) || sorted[static_cast<size_t>(l)] != l) {
        fail(ErrorKind::kIntegrity, "a recorded sequence of shard {} is not an order of its {} slices", shard, slices);
      }
    }
  }
  return it->second;
}

void plan_s3t(TrainingPlan& plan, int shards, int slices, const TrainConfig& tc,
              const std::map<std::pair<int, int>, double>& live, const PlanSequences& given) {
  plan.groups = slices;
  for (int shard = 0; shard < shards; ++shard) {
    const std::vector<Sequence> seqs =
        !given.recorded.empty()
            ? recorded_for(given.recorded, shard, slices)
            : select_sequences(tc, slices, given.shard_probabilities.empty()
                                               ? std::vector<double>{}
                                               : given.shard_probabilities.at(static_cast<size_t>(shard)));
    plan.sequences[shard] = seqs;
    const PrefixTree tree = build_prefix_tree(seqs);
    plan.stages_without_sharing += tree.stages_without_sharing;
    const int offset = static_cast<int>(plan.nodes.size());
    std::map<int, size_t> unit_of_root;  // first-stage tree node -> unit
    std::vector<size_t> unit_of(tree.nodes.size());
    for (size_t k = 0; k < tree.nodes.size(); ++k) {
      const PrefixNode& t = tree.nodes[k];
      NodeSpec n;
      n.kind = mode_name(Mode::kS3t);
      n.shard = shard;
      n.prefix = t.prefix;
      n.name = prefix_name(t.prefix);
      n.parent = t.parent >= 0 ? offset + t.parent : -1;
      n.group = node_group(n.kind, t.prefix.size());
      n.cost = prefix_records(shard, t.prefix, live) * static_cast<double>(tc.epochs_per_stage);
      if (t.parent < 0) {
        unit_of[k] = plan.units.size();
        plan.units.emplace_back();
      } else {
        unit_of[k] = unit_of[static_cast<size_t>(t.parent)];
      }
      WorkUnit& u = plan.units[unit_of[k]];
      u.nodes.push_back(static_cast<int>(plan.nodes.size()));
      u.cost += n.cost;
      plan.nodes.push_back(std::move(n));
    }
  }
}

void plan_sisa(TrainingPlan& plan, int shards, int slices, const TrainConfig& tc,
               const std::map<std::pair<int, int>, double>& live) {
  Sequence order(static_cast<size_t>(slices));
  for (int l = 0; l < slices; ++l) order[static_cast<size_t>(l)] = l;
  for (int shard = 0; shard < shards; ++shard) {
    plan.sequences[shard] = {order};
    WorkUnit u;
    for (int l = 0; l < slices; ++l) {
      NodeSpec n;
      n.kind = mode_name(Mode::kSisa);
      n.shard = shard;
      n.prefix = Sequence(order.begin(), order.begin() + l + 1);
      n.name = prefix_name(n.prefix);
      n.parent = l == 0 ? -1 : static_cast<int>(plan.nodes.size()) - 1;
      n.group = 0;
      n.cost = prefix_records(shard, n.prefix, live) * static_cast<double>(tc.epochs_per_stage);
      u.nodes.push_back(static_cast<int>(plan.nodes.size()));
      u.cost += n.cost;
      plan.nodes.push_back(std::move(n));
    }
    plan.units.push_back(std::move(u));
  }
  plan.stages_without_sharing = static_cast<int>(plan.nodes.size());
}

void plan_full(TrainingPlan& plan, int shards, int slices, const TrainConfig& tc,
               const std::map<std::pair<int, int>, double>& live) {
  NodeSpec n;
  n.kind = mode_name(Mode::kFull);
  n.shard = -1;
  double records = 0;
  for (int i = 0; i < shards * slices; ++i) {
    n.prefix.push_back(i);
    records += prefix_records(i / slices, {i % slices}, live);
  }
  n.name = "all";
  n.cost = records * static_cast<double>(tc.epochs_per_stage);
  plan.units.push_back({{0}, n.cost});
  plan.nodes.push_back(std::move(n));
  plan.stages_without_sharing = 1;
}

// The DP base, then the deployed model continuing its group on the same data. The DP node's
// cost is privacy.epochs passes in expectation; the config does not reach here, so the plan
// counts train.epochs_per_stage for both (an estimate for balancing only).
void plan_dp2(TrainingPlan& plan, int shards, int slices, const TrainConfig& tc,
              const std::map<std::pair<int, int>, double>& live) {
  plan_full(plan, shards, slices, tc, live);
  NodeSpec base = plan.nodes.front();
  base.kind = mode_name(Mode::kDp2);
  base.name = "dp_base";
  base.dp = true;
  NodeSpec deployed = base;
  deployed.name = "deployed";
  deployed.dp = false;
  deployed.parent = 0;
  plan.nodes = {base, deployed};
  plan.units = {{{0, 1}, base.cost + deployed.cost}};
  plan.stages_without_sharing = 2;
}

}  // namespace

std::vector<Sequence> select_sequences(const TrainConfig& t, int slices, const std::vector<double>& probabilities) {
  if (!t.owner_priors.empty() && t.selection != "bms") {
    fail(ErrorKind::kUsage, "train.owner_priors is set but train.selection is '{}': owner priors only steer "
         "\"bms\" selection", t.selection);
  }
  if (!t.owner_priors.empty() && !t.deletion_probabilities.empty()) {
    fail(ErrorKind::kUsage, "train.owner_priors and train.deletion_probabilities are both set: give one");
  }
  if (t.selection == "bms") {
    std::vector<double> p = probabilities.empty() ? t.deletion_probabilities : probabilities;
    if (p.empty()) p.assign(static_cast<size_t>(slices), 0.0);
    if (static_cast<int>(p.size()) != slices) {
      fail(ErrorKind::kUsage, "train.deletion_probabilities has {} values, but shards have {} slices",
           p.size(), slices);
    }
    return bms_sequences(p, static_cast<int>(t.sequences), t.expected_deletions);
  }
  return cyclic_sequences(slices, static_cast<int>(t.sequences));
}

std::vector<bool> service_nodes(const TrainingPlan& plan, const std::vector<bool>& needed) {
  const auto on_path = [](const Sequence& prefix, const Sequence& sequence) {
    return prefix.size() <= sequence.size() && std::equal(prefix.begin(), prefix.end(), sequence.begin());
  };
  std::vector<bool> out = needed;
  for (const auto& [shard, sequences] : plan.sequences) {
    size_t best = 0;
    double best_cost = -1;
    for (size_t q = 0; q < sequences.size(); ++q) {
      double cost = 0;
      for (size_t k = 0; k < plan.nodes.size(); ++k) {
        const NodeSpec& n = plan.nodes[k];
        if (n.shard == shard && needed[k] && on_path(n.prefix, sequences[q])) cost += n.cost;
      }
      if (best_cost < 0 || cost < best_cost) best = q, best_cost = cost;
    }
    for (size_t k = 0; k < plan.nodes.size(); ++k) {
      const NodeSpec& n = plan.nodes[k];
      if (n.shard == shard && !on_path(n.prefix, sequences[best])) out[k] = false;
    }
  }
  return out;
}

int node_group(const std::string& mode, size_t prefix_length) {
  return mode_traits(mode).group_per_stage ? static_cast<int>(prefix_length) - 1 : 0;
}

TrainingPlan plan_training(const std::string& mode, int shards, int slices, const TrainConfig& train,
                           const std::vector<SliceRow>& slice_rows, const PlanSequences& sequences) {
  TrainingPlan plan;
  plan.mode = mode;
  const auto live = live_counts(slice_rows);
  switch (parse_mode(mode)) {  // no default: a new Mode must say how it plans
    case Mode::kS3t:
      plan_s3t(plan, shards, slices, train, live, sequences);
      break;
    case Mode::kSisa:
      plan_sisa(plan, shards, slices, train, live);
      break;
    case Mode::kFull:
      plan_full(plan, shards, slices, train, live);
      break;
    case Mode::kDp2:
      plan_dp2(plan, shards, slices, train, live);
      break;
  }
  return plan;
}

}  // namespace lethe
