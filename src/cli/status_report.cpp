// What `lethe status` and `lethe serve`'s GET /v1/status report: one owner of the workspace's
// state as users see it.
#include "src/cli/status_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "src/index/components.h"
#include "src/index/lineage_index.h"
#include "shards/plan.h"
#include "src/index/component_privacy.h"
#include "src/index/workspace_plan.h"
#include "src/common/error.h"
#include "src/config/modes.h"
#include "src/privacy/dp_schedule.h"
#include "src/serving/serving_view.h"
#include "src/unlearning/forget.h"
#include "src/unlearning/retrain_state.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

// dp2: the live DP base's guarantee in words and numbers, the deletions it has absorbed since
// it was trained (group privacy), and what serves.
void add_privacy_state(Workspace& ws, const Config& config, nlohmann::json& m, std::string& text) {
  const IndexLiveView now = live_in_index(ws, mode_name(Mode::kDp2), config.privacy.after_forget == "dp_base");
  std::optional<ComponentPrivacy> p;
  for (const auto& [key, c] : now.components) {
    if (auto x = component_privacy(ws.db, c.component_id)) p = x;
  }
  // What the serving rule serves: the chain dp_base, deployed, or its first node alone.
  const ShardLive& dp2 = now.rule.shards.at(0);
  const std::string serving =
      dp2.serving < 0 ? "nothing" : dp2.chains[0][static_cast<size_t>(dp2.serving_length) - 1].name;
  m["serving"] = serving;
  if (!p) {
    m["privacy"] = nullptr;
    text += "    no live DP base: the next retraining trains one (spending new privacy on the retained data)\n";
    return;
  }
  const DpBounded b = dp_bound(ws.db, *p);
  m["privacy"] = {{"unit", p->unit}, {"epsilon", p->epsilon}, {"delta", p->delta}, {"accountant", p->accountant},
                  {"noise_multiplier", p->noise_multiplier}, {"sample_rate", p->sample_rate}, {"steps", p->steps},
                  {"units", p->units}, {"deleted_units", b.deleted_units}, {"group_epsilon", b.group_epsilon},
                  {"group_delta", b.group_delta}, {"epsilon_budget", config.privacy.epsilon_budget}};
  // Every DP training run that touched the data composes (earlier DP bases were released too).
  // A single run is the live base's own: its recorded guarantee, without running the
  // accountant again.
  std::vector<SgmRun> runs;
  for (const ComponentPrivacy& x : all_component_privacy(ws.db)) runs.push_back({x.noise_multiplier, x.sample_rate, x.steps});
  const PrivacySpent all = runs.size() == 1 ? PrivacySpent{p->epsilon, 0, p->accountant, false}
                                            : spent_by(p->accountant, runs, p->delta);
  m["privacy"]["all_runs"] = {{"runs", runs.size()}, {"epsilon", all.epsilon}, {"delta", p->delta},
                              {"accountant", all.accountant}};
  text += fmt::format("    DP base: {}\n", describe_guarantee(p->unit, p->epsilon, p->delta, p->accountant));
  if (runs.size() > 1) {
    text += fmt::format("      composed over all {} DP trainings of this workspace: epsilon = {:.4g} at delta = {:.3g} ({} "
                        "accountant)\n", runs.size(), all.epsilon, p->delta, all.accountant);
  }
  text += fmt::format("      trained on {} {} with noise multiplier {:.4g}, sample rate {:.4g}, {} steps\n", p->units,
                      p->unit == "owner" ? "owners" : "records", p->noise_multiplier, p->sample_rate, p->steps);
  if (b.deleted_units > 0) {
    text += fmt::format("      deleted since: {} {}, so what serves is (epsilon = {:.4g}, delta = {:.3g})-DP with respect "
                        "to them{}\n", b.deleted_units, b.deleted_units == 1 ? p->unit : p->unit == "owner" ? "owners" : "records", b.group_epsilon,
                        b.group_delta,
                        config.privacy.epsilon_budget > 0
                            ? fmt::format(" (budget: epsilon {:g})", config.privacy.epsilon_budget) : "");
  }
  text += serving == "deployed" ? "      serving: the deployed model (fine-tuned from the DP base)\n"
          : serving == "dp_base" ? "      serving: the DP base alone, until 'lethe retrain'\n"
                                 : "      serving: nothing, until 'lethe retrain' (privacy.after_forget = \"nothing\")\n";
}

// Per trained mode: what serves, what deletions switched off, and what catching up would cost
// beside SISA and full retraining.
void add_training_state(const Config& base_config, Workspace& ws, nlohmann::json& j, std::string& text) {
  nlohmann::json modes = nlohmann::json::object();
  for (const ModeTraits& t : kModeTable) {
    const std::string mode = t.name;
    if (!has_recorded_sequences(ws.db, mode)) continue;
    Config config = base_config;
    config.train.mode = mode;
    RetrainState st;
    try {
      st = assess_retraining(ws, config);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kConflict) throw;
      modes[mode] = {{"error", e.what()}};
      text += fmt::format("  {}: nothing serves: {}\n", mode, e.what());
      continue;
    }
    nlohmann::json shards = nlohmann::json::array();
    for (const ShardState& s : st.shards) {
      shards.push_back({{"shard", s.shard}, {"sequences", s.sequences}, {"live_prefix", s.live_prefix},
                        {"best_prefix", s.best_prefix}, {"deleted", s.deleted}});
    }
    const double pending = st.pending.cost_to_train;
    nlohmann::json m = {{"live_shards", st.live_shards},
                        {"total_shards", st.total_shards},
                        {"shards", shards},
                        {"deleted_since_training", st.deleted_since_training},
                        {"pending_nodes", st.pending.nodes_to_train},
                        {"pending_samples", pending},
                        {"sisa_samples", st.sisa_cost},
                        {"full_samples", st.full_cost},
                        {"samples_per_second", st.samples_per_second ? nlohmann::json(*st.samples_per_second) : nullptr},
                        {"pending_seconds", st.samples_per_second ? nlohmann::json(pending / *st.samples_per_second) : nullptr},
                        {"retrain_needed", !st.reasons.empty()},
                        {"reasons", st.reasons}};
    text += fmt::format("  {}: {} of {} shards serve; {} record{} deleted since it last finished training\n", mode,
                        st.live_shards, st.total_shards, st.deleted_since_training,
                        st.deleted_since_training == 1 ? "" : "s");
    if (t.dp_base) add_privacy_state(ws, config, m, text);
    modes[mode] = m;
    for (const ShardState& s : st.shards) {
      std::string seqs;
      for (size_t b = 0; b < s.sequences.size(); ++b) {
        std::string order;
        for (int l : s.sequences[b]) order += (order.empty() ? "" : ".") + std::to_string(l);
        seqs += fmt::format("{}{} ({}/{} live)", b ? ", " : "", order, s.live_prefix[b], s.sequences[b].size());
      }
      text += fmt::format("    shard {:>3}: serves {} of {} slices; {} deleted; sequences {}\n", s.shard, s.best_prefix,
                          st.slices, s.deleted, seqs);
    }
    if (st.pending.nodes_to_train == 0) {
      text += "    nothing to retrain\n";
    } else {
      const std::string eta = st.samples_per_second
                                  ? fmt::format(" (about {:.1f} s at the measured {:.0f} records/s)",
                                                pending / *st.samples_per_second, *st.samples_per_second)
                                  : "";
      text += fmt::format("    pending retraining: {} node{}, {:.0f} records processed{}; for the same deletions "
                          "SISA would process {:.0f} and full retraining {:.0f}\n",
                          st.pending.nodes_to_train, st.pending.nodes_to_train == 1 ? "" : "s", pending, eta,
                          st.sisa_cost, st.full_cost);
      text += st.reasons.empty() ? "    retrain --if-needed: not yet (no rule of [retrain] holds)\n"
                                 : "    retrain --if-needed: yes, " + st.reasons.front() + "\n";
    }
  }
  j["training"] = modes;
}

}  // namespace

StatusReport status_report(Workspace& ws, const Config& config) {
  const WorkspaceInfo info = workspace_info(ws);
  const auto counts = split_counts(ws.db);
  const auto slices = list_slices(ws.db);
  const auto meta = [&](const char* key) { return get_meta(ws.db, key).value_or(""); };

  nlohmann::json j = {{"workspace", ws.root.string()},
                      {"workspace_id", info.workspace_id},
                      {"created_at", info.created_at},
                      {"schema_version", info.schema_version}};
  std::string text = fmt::format("Workspace {} (id {}, created {})\n", ws.root.string(),
                                 info.workspace_id, info.created_at);
  if (slices.empty()) {
    j["records"] = 0;
    return {j, text + "  no data yet: run 'lethe ingest'"};
  }

  nlohmann::json splits = nlohmann::json::object();
  text += "  records:";
  for (const auto& c : counts) {
    splits[c.kind] = {{"records", c.records}, {"deleted", c.deleted}, {"owners", c.owners}};
    text += fmt::format(" {} {} ({} owners, {} deleted);", c.kind, c.records, c.owners, c.deleted);
  }
  text.back() = '\n';
  j["splits"] = splits;
  j["payload"] = {{"kind", meta("data.payload_kind")}, {"type", meta("data.payload_type")}};
  j["labels"] = label_names(ws.db).size();

  const WorkspacePlan plan = read_plan(ws.db);
  const int shards = plan.shards, per_shard = plan.slices;
  const std::string seed = std::to_string(plan.seed);  // as the JSON has always given it: a string
  std::vector<uint64_t> sizes(static_cast<size_t>(shards * per_shard), 0);
  nlohmann::json files = nlohmann::json::array();
  for (const auto& s : slices) {
    if (s.kind == "train") sizes[static_cast<size_t>(s.shard * per_shard + s.slice)] = s.live;
    files.push_back({{"kind", s.kind}, {"shard", s.shard}, {"slice", s.slice}, {"file", s.file},
                     {"hash", s.hash}, {"records", s.records}, {"live", s.live}, {"bytes", s.bytes}});
  }
  const PlanSummary sum = summarize(sizes);
  j["plan"] = {{"shards", shards},   {"slices", per_shard},  {"strategy", plan.strategy},
               {"seed", seed},       {"min", sum.min_cell},  {"max", sum.max_cell},
               {"mean", sum.mean_cell},     {"imbalance", sum.imbalance}};
  j["slices"] = files;
  text += fmt::format("  plan: {} shards x {} slices, strategy {}, seed {}; live records per "
                      "slice {}..{} (mean {:.1f}, imbalance {:.1f}%)\n",
                      shards, per_shard, plan.strategy, seed, sum.min_cell,
                      sum.max_cell, sum.mean_cell, sum.imbalance * 100);
  text += "  live records per slice:\n";
  for (int s = 0; s < shards; ++s) {
    text += fmt::format("    shard {:>3}:", s);
    for (int l = 0; l < per_shard; ++l) text += fmt::format(" {:>7}", sizes[static_cast<size_t>(s * per_shard + l)]);
    text += "\n";
  }
  // The base as recorded; every command that uses it verifies the file against this hash.
  const auto bases = live_components(ws.db, "base");
  if (bases.empty()) {
    j["base"] = nullptr;
    text += has_deactivated_component(ws.db, "base") ? "  base: switched off: a deleted record was in the public data it was trained on (run 'lethe pretrain')\n"
                       : "  base: none yet (run 'lethe pretrain' or 'lethe import-base')\n";
  } else {
    j["base"] = {{"file", bases.back().file}, {"hash", bases.back().hash},
                 {"source", meta("base.source")},
                 {"spec", nlohmann::json::parse(meta("base.spec"))}};
    text += fmt::format("  base: {} ({}, hash {})\n", bases.back().file, meta("base.source"),
                        bases.back().hash.substr(0, 16));
  }
  add_training_state(config, ws, j, text);
  return {j, text};
}


}  // namespace lethe
