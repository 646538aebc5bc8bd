// lethe report: reports/index.html, one self-contained page (inline SVG, no scripts, no
// network) on where the workspace stands with deletions: accuracy and retraining cost as
// deletions arrive (S3T beside SISA and full retraining, from the replay that `simulate
// --with-eval` saves, run here when missing), what each shard serves now, the expected
// service under deletions for this plan (Monte Carlo), and the training and deletion history.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <optional>

#include "shards/deletion_simulation.h"
#include "src/index/deletion_requests.h"
#include "src/index/lineage_index.h"
#include "src/index/training_history.h"
#include "src/index/workspace_plan.h"
#include "src/cli/context.h"
#include "src/common/clock.h"
#include "src/common/error.h"
#include "src/config/modes.h"
#include "src/report/html_report.h"
#include "src/report/svg_chart.h"
#include "src/unlearning/deletion_replay.h"
#include "src/unlearning/retrain_state.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

struct ReportFlags {
  bool replay = true;  // run the deletion replay when none is saved
};

std::string mode_label(const std::string& mode) {
  const ModeTraits* t = find_mode(mode);
  return t ? t->replay_label : mode;  // a curve of no known mode (a replay saved by something else): its name
}

// Dashed: a curve repeated from before the deletions, not measured after them.
bool dashed(const std::string& mode) {
  const ModeTraits* t = find_mode(mode);
  return t && t->replay == ReplayAccuracy::kBeforeDeletions;
}

std::vector<double> as_x(const std::vector<int64_t>& v) { return std::vector<double>(v.begin(), v.end()); }

ReportSection replay_section(const ReplayResult& r) {
  ReportSection s;
  s.heading = "Accuracy and retraining cost as deletions arrive";
  s.intro_html = fmt::format(
      "<p>{} deletion requests ({}) replayed on the trained models without retraining, measured on {} test "
      "records. S3T and SISA keep serving what no deletion touched; full training must retrain after every "
      "deletion to serve at all, and the replay runs no retraining: the full line repeats the full model's "
      "accuracy before any deletion (not measured after deletions) beside the cost of those retrainings. "
      "A gap means nothing would serve.</p>",
      r.requests.back(), html_escape(r.distribution), r.test_records);
  LineChart acc{"Test accuracy vs deletions", "deletion requests", "accuracy (%)", {}, std::nullopt, std::nullopt};
  LineChart cost{"Records one retraining would process", "deletion requests", "records (all epochs)", {},
                 0.0, std::nullopt};
  std::vector<std::vector<std::string>> rows;
  for (const ReplayCurve& c : r.curves) {
    Series a{mode_label(c.mode), as_x(r.requests), {}, dashed(c.mode)};
    for (double v : c.accuracy) a.y.push_back(std::isnan(v) ? v : 100 * v);
    acc.series.push_back(a);
    cost.series.push_back({mode_label(c.mode), as_x(r.requests), c.retrain_samples, dashed(c.mode)});
  }
  for (size_t p = 0; p < r.requests.size(); ++p) {
    std::vector<std::string> row = {std::to_string(r.requests[p]), std::to_string(r.records[p])};
    for (const ReplayCurve& c : r.curves) {
      row.push_back(std::isnan(c.accuracy[p]) ? "none" : fmt::format("{:.2f}% ({} shards)", 100 * c.accuracy[p], c.live_shards[p]));
    }
    rows.push_back(row);
  }
  std::vector<std::string> header = {"requests", "records"};
  for (const ReplayCurve& c : r.curves) header.push_back(c.mode);
  s.figures_svg = {render_line_chart(acc), render_line_chart(cost)};
  s.table_html = html_table(header, rows);
  return s;
}

ReportSection shards_section(const RetrainState& st) {
  ReportSection s;
  s.heading = fmt::format("What each shard serves now ({})", st.mode);
  BarChart bars{fmt::format("Live prefix per sequence ({} slices per shard)", st.slices), "live slices", {}, {}};
  size_t sequences = 0;
  for (const ShardState& sh : st.shards) sequences = std::max(sequences, sh.live_prefix.size());
  for (size_t b = 0; b < sequences; ++b) bars.series_names.push_back(fmt::format("sequence {}", b));
  std::vector<std::vector<std::string>> rows;
  for (const ShardState& sh : st.shards) {
    BarGroup g{fmt::format("shard {}", sh.shard), {}};
    for (int p : sh.live_prefix) g.values.push_back(p);
    bars.groups.push_back(g);
    rows.push_back({std::to_string(sh.shard), std::to_string(sh.best_prefix), std::to_string(sh.deleted)});
  }
  s.figures_svg = {render_bar_chart(bars)};
  s.table_html = html_table({"shard", "serving prefix", "deleted records"}, rows);
  s.note_html = fmt::format(
      "<p>{} of {} shards serve. A retrain now would train {} nodes on {:.0f} records (all epochs); for the "
      "same deletions SISA would process {:.0f} and full retraining {:.0f}.{}</p>",
      st.live_shards, st.total_shards, st.pending.nodes_to_train, st.pending.cost_to_train, st.sisa_cost, st.full_cost,
      st.reasons.empty() ? "" : " <code>retrain --if-needed</code> would run: " + html_escape(st.reasons.front()) + ".");
  return s;
}

ReportSection simulation_section(int shards, int slices, int budget, const std::string& selection) {
  ReportSection s;
  s.heading = "Expected service under uniform deletions (simulation)";
  SimulationOptions o;
  o.shards = shards;
  o.slices = slices;
  o.sequences = std::min(budget, slices);
  o.selection = selection;
  o.trials = 2000;
  const double closed = closed_form_deletions_to_failure(shards, slices, budget, "s3t");
  o.deletions = static_cast<int>(std::ceil(closed));
  const SimulationResult s3t = simulate_deletions(o);
  SimulationOptions sisa = o;
  sisa.mode = "sisa";
  const SimulationResult rs = simulate_deletions(sisa);
  std::vector<double> k;
  for (int i = 0; i <= o.deletions; ++i) k.push_back(i);
  LineChart chart{"Shards still serving after k deletions (2,000 trials)", "deletions", "shards serving", {}, 0.0,
                  static_cast<double>(shards)};
  chart.series.push_back({fmt::format("S3T, {} {} sequences", o.sequences, selection), k, s3t.live_shards, false});
  chart.series.push_back({"SISA without retraining", k, rs.live_shards, true});
  s.figures_svg = {render_line_chart(chart)};
  s.intro_html = fmt::format(
      "<p>{} shards &times; {} slices. Deletions until nothing serves: S3T {:.1f} (closed form m&middot;L&middot;"
      "H(m&middot;B') = {:.1f}), SISA {:.1f} (m&middot;H(m) = {:.1f}).</p>",
      shards, slices, s3t.mean_deletions_to_failure, closed, rs.mean_deletions_to_failure,
      closed_form_deletions_to_failure(shards, slices, budget, "sisa"));
  return s;
}

ReportSection history_section(Workspace& ws) {
  ReportSection s;
  s.heading = "Training runs and deletion requests";
  BarChart bars{"Records processed per training run", "records (all epochs)", {"train", "retrain"}, {}};
  std::vector<std::vector<std::string>> rows;
  for (const TrainingRunRow& run : training_runs(ws.db)) {
    const bool retrain = run.command == "retrain";
    const double samples = static_cast<double>(run.samples);
    bars.groups.push_back({fmt::format("#{} {}", run.run_id, run.mode), {retrain ? 0.0 : samples, retrain ? samples : 0.0}});
    rows.push_back({std::to_string(run.run_id), run.command, run.mode, run.finished_at, std::to_string(run.ranks),
                    std::to_string(run.nodes_trained), std::to_string(run.nodes_reused), std::to_string(run.samples),
                    fmt::format("{:.1f}", run.seconds)});
  }
  bars.stacked = true;
  if (!bars.groups.empty()) s.figures_svg = {render_bar_chart(bars)};
  s.table_html = html_table({"run", "command", "mode", "finished (UTC)", "ranks", "nodes trained", "nodes kept",
                             "records", "seconds"}, rows);
  std::vector<std::vector<std::string>> req_rows;
  for (const RequestRow& q : recent_requests(ws.db, 50)) {
    req_rows.push_back({q.request_id, q.created_at, q.reason, std::to_string(q.deleted), q.status});
  }
  s.note_html = "<p>Deletion requests (newest first, at most 50). Their IDs and reasons are shown by keyed hash, as "
                "the index and the ledger keep them (they may name a person); <code>lethe audit keyed-id ID</code> "
                "gives the hash of a request ID you know.</p>" +
                html_table({"request", "acknowledged (UTC)", "reason", "records deleted", "status"}, req_rows);
  return s;
}

void run_report(Context& ctx, const ReportFlags& flags) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const WorkspacePlan shape = read_plan(ws.db);
  const int shards = shape.shards, slices = shape.slices;
  ReportPage page;
  page.title = "Lethe unlearning report";
  page.subtitle = ws.root.string();
  page.facts = {{"generated (UTC)", utc_timestamp()}, {"plan", fmt::format("{} shards x {} slices", shards, slices)}};
  for (const SplitCounts& c : split_counts(ws.db)) {
    page.facts.push_back({c.kind + " records", fmt::format("{} ({} deleted)", c.records, c.deleted)});
  }

  const fs::path replay_file = ws.root / "reports" / "deletion-replay.json";
  std::optional<ReplayResult> replay;
  std::string replay_missing;  // why no replay could run
  bool trained = false;
  for (const ModeTraits& t : kModeTable) {  // a mode the replay covers (not dp2: ReplayAccuracy::kNotReplayed)
    if (t.replay != ReplayAccuracy::kNotReplayed) trained = trained || has_recorded_sequences(ws.db, t.name);
  }
  if (fs::exists(replay_file)) {
    replay = read_replay(replay_file);
  } else if (trained && flags.replay) {
    ctx.log->info("no saved deletion replay: running one ('lethe simulate --with-eval' with its defaults)");
    ReplayOptions o;
    o.requests = static_cast<int64_t>(std::ceil(
        closed_form_deletions_to_failure(shards, slices, static_cast<int>(ctx.config.train.sequences), "s3t")));
    o.batches = std::min<int64_t>(10, o.requests);
    try {
      replay = replay_deletions(ws, ctx.config, o, ctx.comm);
      fs::create_directories(replay_file.parent_path());
      write_file_atomic(replay_file, replay_to_json(*replay).dump(2) + "\n");
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound && e.kind() != ErrorKind::kConflict) throw;
      replay_missing = e.what();
    }
  }
  if (replay) {
    page.sections.push_back(replay_section(*replay));
  } else {
    page.sections.push_back({"Accuracy and retraining cost as deletions arrive",
                             replay_missing.empty()
                                 ? "<p>No trained model yet: run <code>lethe train</code> (and the baselines with "
                                   "<code>--mode sisa</code>, <code>--mode full</code>), then <code>lethe simulate "
                                   "--with-eval</code>.</p>"
                                 : "<p>No replay: " + html_escape(replay_missing) + "</p>",
                             {}, "", ""});
  }
  for (const ModeTraits& t : kModeTable) {  // per shard: the sharded modes
    const std::string mode = t.name;
    if (!t.sharded || !has_recorded_sequences(ws.db, mode)) continue;
    Config config = ctx.config;
    config.train.mode = mode;
    try {
      page.sections.push_back(shards_section(assess_retraining(ws, config)));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kConflict) throw;
      page.sections.push_back({fmt::format("What each shard serves now ({})", mode),
                               "<p>Nothing serves: " + html_escape(e.what()) + "</p>", {}, "", ""});
    }
  }
  page.sections.push_back(simulation_section(shards, slices, static_cast<int>(ctx.config.train.sequences),
                                             ctx.config.train.selection));
  page.sections.push_back(history_section(ws));
  page.footer = "Generated by lethe report. Every figure is measured on this workspace or simulated from its plan; "
                "nothing here was retrained to draw it.";

  const fs::path out = ws.root / "reports" / "index.html";
  fs::create_directories(out.parent_path());
  const std::string html = render_report(page);
  write_file_atomic(out, html);
  ctx.out.result({{"report", out.string()}, {"sections", page.sections.size()}, {"bytes", html.size()},
                  {"replay", replay ? replay_file.string() : ""}},
                 fmt::format("Wrote {} ({} sections, {} bytes)", out.string(), page.sections.size(), html.size()));
}

}  // namespace

void add_report_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "report",
      "Write reports/index.html: accuracy and retraining cost vs deletions (S3T, SISA, full), what each "
      "shard serves, the expected service under deletions, and the training and deletion history; one "
      "self-contained page with SVG charts");
  auto f = std::make_shared<ReportFlags>();
  cmd->add_flag("!--no-replay", f->replay,
                "Do not run the deletion replay when none is saved (its charts are left out)");
  commands.push_back({cmd, [f](Context& ctx) { run_report(ctx, *f); }});
}

}  // namespace lethe
