#include "src/audit/replay.h"

#include <fmt/format.h>

#include <algorithm>

#include "shards/plan.h"
#include "src/common/device.h"
#include "src/common/error.h"
#include "src/config/modes.h"
#include "src/common/hash.h"
#include "src/common/platform.h"
#include "src/index/workspace_plan.h"

namespace lethe {

namespace {

// A kept DP node is kept across changes to its slices (train_run.h); replaying needs them as
// they were.
bool inputs_unchanged(Workspace& ws, const NodeMeta& recorded, const NodeSpec& node) {
  const WorkspacePlan shape = read_plan(ws.db);
  return recorded.slices == inputs_of(node, train_slice_rows(list_slices(ws.db), node.shard, shape.shards, shape.slices));
}

// Why a live node is not what its mode's plan would keep: the first recorded input that differs.
std::string why_unreplayable(Workspace& ws, const ComponentRow& c, const RunPlan& run) {
  const NodeCheckpoint old = read_node(ws.root / c.file, c.hash);
  if (old.meta.config_hash != run.config_hash) {
    return "it was trained under another training configuration than lethe.toml gives now (restore the settings it "
           "was trained with to replay it)";
  }
  if (old.meta.base_hash != run.base_hash) return "it was trained on another base than the live one";
  const bool named = std::any_of(run.plan.nodes.begin(), run.plan.nodes.end(),
                                 [&](const NodeSpec& n) { return n.shard == c.shard && n.name == c.prefix; });
  if (!named) return "no recorded sequence of its mode uses it";
  return "its parent or one of its slices is no longer the one it was trained on";
}

// Where a node that recorded `trained_with` is trained again: on the CPU, or for a GPU node on
// this rank's GPU at the recorded precision when this process has one (else the CPU, which
// numerics_mismatch then names).
ComputeDevice replay_device(const Numerics& trained_with) {
  if (trained_with.device != "cuda") return {};
  try {
    return select_device("cuda", trained_with.precision);
  } catch (const Error&) {
    return {};
  }
}

}  // namespace

ReplayCases replay_cases(Workspace& ws, const Config& config) {
  ReplayCases out;
  out.config = config;
  for (const ModeTraits& t : kModeTable) {
    const std::string mode = t.name;
    const std::vector<ComponentRow> live = live_components(ws.db, mode);
    if (live.empty()) continue;
    Config c = config;
    c.train.mode = mode;
    TrainOptions options;
    options.command = "retrain";
    options.restore_sequences = true;
    RunPlan run;
    try {
      run = plan_run(ws, c, options);
    } catch (const Error& e) {
      for (const ComponentRow& x : live) out.unreplayable.push_back({x, std::string("its mode cannot be planned: ") + e.what()});
      continue;
    }
    std::map<std::pair<int, std::string>, int> kept;  // (shard, name) -> plan node
    for (size_t k = 0; k < run.plan.nodes.size(); ++k) {
      if (!run.kept_hash[k].empty()) kept[{run.plan.nodes[k].shard, run.plan.nodes[k].name}] = static_cast<int>(k);
    }
    for (const ComponentRow& x : live) {
      const auto it = kept.find({x.shard, x.prefix});
      if (it != kept.end() && run.kept_hash[static_cast<size_t>(it->second)] == x.hash) {
        const NodeSpec& node = run.plan.nodes[static_cast<size_t>(it->second)];
        const NodeMeta recorded = read_node(ws.root / x.file, x.hash).meta;  // read once, for both checks
        if (node.dp && !inputs_unchanged(ws, recorded, node)) {
          out.dp_inputs_changed.push_back(x);
          continue;
        }
        const Numerics& trained_with = recorded.trained_with;
        const ComputeDevice device = replay_device(trained_with);
        const std::string mismatch = numerics_mismatch(trained_with, numerics_on(device));
        if (!mismatch.empty()) {
          out.other_numerics.push_back({x, mismatch});
          continue;
        }
        out.cases.push_back({x, mode, it->second, trained_with, device});
      } else {
        out.unreplayable.push_back({x, why_unreplayable(ws, x, run)});
      }
    }
    out.plans[mode] = std::move(run);
  }
  std::sort(out.cases.begin(), out.cases.end(),
            [](const ReplayCase& a, const ReplayCase& b) { return a.component.component_id < b.component.component_id; });
  return out;
}

ReplayInputs replay_inputs(Workspace& ws, const ReplayCases& cases, const ReplayCase& c) {
  const RunPlan& run = cases.plans.at(c.mode);
  const TrainingPlan& plan = run.plan;
  ReplayInputs in;
  in.node = plan.nodes[static_cast<size_t>(c.node)];
  for (int a = in.node.parent; a >= 0; a = plan.nodes[static_cast<size_t>(a)].parent) {
    in.ancestors.push_back({run.kept_file[static_cast<size_t>(a)], run.kept_hash[static_cast<size_t>(a)],
                            plan.nodes[static_cast<size_t>(a)].group});
  }
  in.parent_hash = in.node.parent >= 0 ? run.kept_hash[static_cast<size_t>(in.node.parent)] : "";
  in.config_hash = run.config_hash;
  in.stored_hash = c.component.hash;
  in.groups = plan.groups;
  in.config = cases.config;
  in.config.train.mode = c.mode;
  const WorkspacePlan shape = read_plan(ws.db);
  in.data = load_train_slices(ws, in.node.shard, shape.shards, shape.slices);
  if (in.node.dp) in.dp_schedule = live_dp_schedule(ws, in.config);
  in.threads = c.trained_with.threads;
  in.device = c.device;
  return in;
}

NodeCheckpoint replay_train(Workspace& ws, const ReplayInputs& in, const ProgressOptions& progress) {
  const BaseModel base = load_base(ws, in.device.device);
  NodeTrainingContext ctx;
  ctx.ws = &ws;
  ctx.base = &base;
  ctx.config = &in.config;
  ctx.groups = in.groups;
  ctx.config_hash = in.config_hash;
  ctx.dp_schedule = in.dp_schedule ? &*in.dp_schedule : nullptr;
  ctx.device = in.device;
  ctx.progress = progress;
  const std::string label = in.node.shard < 0 ? fmt::format("replay: {} model [{}]", in.node.kind, in.node.name)
                                                   : fmt::format("replay: {} shard {} [{}]", in.node.kind, in.node.shard, in.node.name);
  // The thread count it was trained with (MKL's GEMM can differ in the last bits between counts),
  // and this process's again afterwards.
  const int own_threads = current_threads();
  if (in.threads > 0) set_threads(in.threads);
  NodeCheckpoint replayed;
  try {
    replayed = train_node(ctx, in.node, in.ancestors, in.parent_hash, in.data, label).checkpoint;
  } catch (...) {
    set_threads(own_threads);
    throw;
  }
  set_threads(own_threads);
  return replayed;
}

std::vector<ReplayCase> draw_cases(const std::vector<ReplayCase>& cases, int64_t count, uint64_t seed) {
  std::vector<size_t> order(cases.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  deterministic_shuffle(order, seed);
  order.resize(static_cast<size_t>(std::min<int64_t>(count, static_cast<int64_t>(order.size()))));
  std::sort(order.begin(), order.end());
  std::vector<ReplayCase> out;
  for (size_t i : order) out.push_back(cases[i]);
  return out;
}

}  // namespace lethe
