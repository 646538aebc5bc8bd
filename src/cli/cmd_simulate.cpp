// lethe simulate: how long a plan keeps serving under deletions, without training. A Monte
// Carlo of deletion requests against m shards x L slices x B sequences (shards/
// deletion_simulation.h), beside the closed form for uniform deletions and the SISA baseline;
// with --with-eval, a replay of deletions on the trained workspace that measures accuracy and
// retraining cost after each batch (src/unlearning/deletion_replay.h), saved for `lethe report`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <optional>

#include "shards/deletion_priors.h"
#include "shards/deletion_simulation.h"
#include "src/index/lineage_index.h"
#include "src/index/workspace_plan.h"
#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/unlearning/deletion_replay.h"
#include "src/workspace/layout.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

struct SimulateFlags {
  std::optional<int> shards, slices, budget;
  int deletions = 0;  // 0 = about the expected deletions to failure (curve length)
  std::string distribution = "uniform";
  std::optional<std::string> selection;
  std::string mode = "s3t";
  int trials = 1000;
  uint64_t seed = 42;
  double zipf_exponent = 1.0;
  bool with_eval = false;
  int64_t batches = 10;
};

// Per cell weights for the owner distribution: one request per owner, an owner's chance from
// train.owner_priors (or 1 each without priors), landing in the cell that holds its records.
std::vector<std::vector<double>> owner_weights(Workspace& ws, const Config& config, int shards, int slices) {
  const auto cells = owner_cells(ws.db, slices);
  if (cells.empty()) fail(ErrorKind::kUsage, "--distribution owner needs ingested data in '{}'", ws.root.string());
  std::map<std::string, double> priors;
  if (!config.train.owner_priors.empty()) priors = read_owner_priors(config.train.owner_priors);
  const double fallback = config.train.owner_priors.empty() ? 1.0 : config.train.default_owner_prior;
  std::vector<std::vector<double>> w(static_cast<size_t>(shards), std::vector<double>(static_cast<size_t>(slices), 0.0));
  for (const auto& [owner, cell] : cells) {
    const auto it = priors.find(owner);
    w[static_cast<size_t>(cell / slices)][static_cast<size_t>(cell % slices)] += it == priors.end() ? fallback : it->second;
  }
  return w;
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.2f}", v) : "never"; }

void run_monte_carlo(Context& ctx, const SimulateFlags& f) {
  if (!ctx.comm.is_root()) return;  // nothing to share: one rank simulates
  // Shape from the flags, else the workspace's plan, else the configuration.
  std::optional<Workspace> ws;
  if (fs::exists(index_file(ctx.options.workspace))) ws.emplace(open_workspace(ctx.options.workspace));
  const std::optional<WorkspacePlan> plan = ws ? find_plan(ws->db) : std::nullopt;
  SimulationOptions o;
  o.shards = f.shards.value_or(plan ? plan->shards : static_cast<int>(ctx.config.plan.shards));
  o.slices = f.slices.value_or(plan ? plan->slices : static_cast<int>(ctx.config.plan.slices));
  o.sequences = f.budget.value_or(static_cast<int>(ctx.config.train.sequences));
  o.selection = f.selection.value_or(ctx.config.train.selection);
  o.mode = f.mode;
  o.trials = f.trials;
  o.seed = f.seed;
  o.expected_deletions = ctx.config.train.expected_deletions;
  std::vector<std::vector<double>> weights;
  if (f.distribution == "zipf") {
    weights = zipf_probabilities(o.shards, o.slices, f.zipf_exponent, f.seed);
  } else if (f.distribution == "owner") {
    if (!ws) fail(ErrorKind::kUsage, "--distribution owner needs a workspace with data ('{}' has none)", ctx.options.workspace.string());
    weights = owner_weights(*ws, ctx.config, o.shards, o.slices);
  } else if (f.distribution != "uniform") {
    fail(ErrorKind::kUsage, "--distribution '{}': expected uniform, zipf or owner", f.distribution);
  }
  const double closed = closed_form_deletions_to_failure(o.shards, o.slices, o.sequences, o.mode);
  o.deletions = f.deletions > 0 ? f.deletions : static_cast<int>(std::ceil(closed));
  const SimulationResult r = simulate_deletions(o, weights);
  SimulationOptions sisa = o;
  sisa.mode = "sisa";
  const SimulationResult rs = simulate_deletions(sisa, weights);

  const auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"shards", o.shards}, {"slices", o.slices}, {"sequences", o.sequences},
                      {"selection", o.selection}, {"mode", o.mode}, {"distribution", f.distribution},
                      {"trials", o.trials}, {"seed", o.seed},
                      {"mean_deletions_to_failure", finite(r.mean_deletions_to_failure)},
                      {"stderr", finite(r.stderr_deletions_to_failure)},
                      {"closed_form", finite(r.closed_form)},
                      {"closed_form_uniform", closed},
                      {"sisa", {{"mean_deletions_to_failure", finite(rs.mean_deletions_to_failure)},
                                {"closed_form", finite(rs.closed_form)}}},
                      {"mean_live_prefix", r.mean_live_prefix},
                      {"live_shards", r.live_shards},
                      {"sequences", r.sequences}};
  std::string text = fmt::format(
      "{} trials of {} deletions ({}) against {} shards x {} slices, {} {} sequences per shard ({}):\n"
      "  deletions until no shard serves: {} ± {} (closed form for uniform deletions m·L·H(m·B') = {:.2f})\n"
      "  SISA without slice checkpoints: {} (closed form m·H(m) = {:.2f})\n"
      "  mean live prefix (of {} slices) after k deletions:",
      o.trials, f.distribution, f.distribution == "uniform" ? "each slice equally likely" : "weighted slices", o.shards,
      o.slices, o.sequences, o.selection, o.mode, number(r.mean_deletions_to_failure),
      number(r.stderr_deletions_to_failure), closed, number(rs.mean_deletions_to_failure),
      closed_form_deletions_to_failure(o.shards, o.slices, o.sequences, "sisa"), o.slices);
  const size_t step = std::max<size_t>(1, r.mean_live_prefix.size() / 10);
  for (size_t k = 0; k < r.mean_live_prefix.size(); k += step) {
    text += fmt::format("\n    k = {:>5}: {:.2f} (shards serving {:.2f})", k, r.mean_live_prefix[k], r.live_shards[k]);
  }
  ctx.out.result(j, text);
}

void run_replay(Context& ctx, const SimulateFlags& f) {
  Workspace ws = open_workspace(ctx.options.workspace);
  ReplayOptions o;
  // By default, as many requests as take a uniform workload to the end of service (the closed
  // form for the plan): the whole curve.
  const std::optional<WorkspacePlan> plan = find_plan(ws.db);
  const int shards = plan ? plan->shards : 1, slices = plan ? plan->slices : 1;
  const int budget = f.budget.value_or(static_cast<int>(ctx.config.train.sequences));
  o.requests = f.deletions > 0 ? f.deletions
                               : static_cast<int64_t>(std::ceil(closed_form_deletions_to_failure(shards, slices, budget, "s3t")));
  o.batches = std::min<int64_t>(f.batches, o.requests);
  o.distribution = f.distribution;
  o.seed = f.seed;
  const ReplayResult r = replay_deletions(ws, ctx.config, o, ctx.comm);
  if (!ctx.comm.is_root()) return;
  const nlohmann::json j = replay_to_json(r);
  // Saved for `lethe report` (not evidence of anything: the workspace is unchanged).
  fs::create_directories(ws.root / "reports");
  write_file_atomic(ws.root / "reports" / "deletion-replay.json", j.dump(2) + "\n");
  std::string text = fmt::format("Replayed {} {} deletion requests ({} records) on {} test records; nothing was "
                                 "deleted or retrained. Accuracy (shards serving) / records one retraining would process:",
                                 r.requests.back(), r.distribution, r.records.back(), r.test_records);
  text += "\n  requests";
  for (const ReplayCurve& c : r.curves) text += fmt::format(" | {:>26}", c.mode);
  for (size_t p = 0; p < r.requests.size(); ++p) {
    text += fmt::format("\n  {:>8}", r.requests[p]);
    for (const ReplayCurve& c : r.curves) {
      const std::string acc = std::isnan(c.accuracy[p]) ? "  none" : fmt::format("{:5.2f}%", 100 * c.accuracy[p]);
      text += fmt::format(" | {} ({:>2}) / {:>11.0f}", acc, c.live_shards[p], c.retrain_samples[p]);
    }
  }
  for (const ReplayCurve& c : r.curves) {
    if (accuracy_basis(c.mode) == "before_deletions") {
      text += fmt::format("\n  {}: accuracy before any deletion, repeated (serving after a deletion needs a "
                          "retraining, which the replay does not run)", c.mode);
    }
  }
  text += fmt::format("\n  saved to {}", (ws.root / "reports" / "deletion-replay.json").string());
  ctx.out.result(j, text);
}

}  // namespace

void add_simulate_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "simulate",
      "Simulate deletions against the plan without training: the expected number of deletions "
      "until no shard serves and the mean live prefix after k deletions (Monte Carlo, beside the "
      "closed form m·L·H(m·B') and SISA's m·H(m)). With --with-eval, replay deletions on the "
      "trained workspace (read only) and measure accuracy and retraining cost after each batch, "
      "for every trained mode (full, which only a retraining would restore, keeps its accuracy "
      "from before the deletions: the replay retrains nothing); saved to reports/ for 'lethe report'");
  auto f = std::make_shared<SimulateFlags>();
  cmd->add_option("--shards", f->shards, "Shards m (default: the workspace's plan, else plan.shards)")->check(CLI::PositiveNumber);
  cmd->add_option("--slices", f->slices, "Slices per shard L (default: the plan)")->check(CLI::PositiveNumber);
  cmd->add_option("--budget", f->budget, "Sequences per shard B (default: train.sequences)")->check(CLI::PositiveNumber);
  cmd->add_option("--deletions", f->deletions,
                  "Monte Carlo: length of the live-prefix curve (default: the closed form); --with-eval: "
                  "requests to replay (default: the closed form for the plan)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--distribution", f->distribution,
                  "uniform (every slice equally likely), zipf (slices ranked by a Zipf law, --zipf-exponent) or "
                  "owner (one request per owner, by train.owner_priors); --with-eval: uniform (records) or owner")
      ->check(CLI::IsMember({"uniform", "zipf", "owner"}));
  cmd->add_option("--selection", f->selection, "cyclic or bms (default: train.selection)")
      ->check(CLI::IsMember({"cyclic", "bms"}));
  cmd->add_option("--mode", f->mode, "s3t, or sisa (a shard dies at its first deletion)")
      ->check(CLI::IsMember({"s3t", "sisa"}));
  cmd->add_option("--trials", f->trials, "Monte Carlo trials")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", f->seed, "Seed of the deletions drawn");
  cmd->add_option("--zipf-exponent", f->zipf_exponent, "Exponent s of the zipf distribution")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--with-eval", f->with_eval, "Replay deletions on the trained workspace and measure accuracy");
  cmd->add_option("--batches", f->batches, "--with-eval: measurement points after the start")->check(CLI::PositiveNumber);
  commands.push_back({cmd, [f](Context& ctx) { f->with_eval ? run_replay(ctx, *f) : run_monte_carlo(ctx, *f); }, true, true});
}

}  // namespace lethe
