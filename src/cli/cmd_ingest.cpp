// lethe ingest: load records into the workspace, planned into shards and slices.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/ingest/ingest.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

struct IngestFlags {
  std::string dataset;
  std::string jsonl;
  std::string csv;
  bool append = false;
};

// Folds the source flags into the configuration; at most one source may be named.
void apply_source_flags(const IngestFlags& f, DataConfig& data) {
  const int named = !f.dataset.empty() + !f.jsonl.empty() + !f.csv.empty();
  if (named > 1) fail(ErrorKind::kUsage, "name one source: --dataset, --jsonl or --csv");
  if (!f.dataset.empty()) {
    // A path configured for another source (a JSONL file, say) means nothing to a built-in
    // dataset, which then reads its Debian package's directory; one configured for this
    // dataset (an unpacked copy elsewhere) is kept.
    if (data.source != f.dataset) data.path.clear();
    data.source = f.dataset;
  }
  if (!f.jsonl.empty()) data.source = "jsonl", data.path = f.jsonl;
  if (!f.csv.empty()) data.source = "csv", data.path = f.csv;
}

nlohmann::json report_json(const IngestReport& r) {
  nlohmann::json slices = nlohmann::json::array();
  for (const auto& s : r.slices) {
    slices.push_back({{"kind", s.kind}, {"shard", s.shard}, {"slice", s.slice},
                      {"records_added", s.records}, {"file", s.file}, {"hash", s.hash}});
  }
  return {{"source", r.source},
          {"records", r.records},
          {"train", r.train},
          {"public", r.public_records},
          {"test", r.test},
          {"labels", r.labels},
          {"plan",
           {{"cell_sizes", r.cell_sizes},
            {"min", r.plan.min_cell},
            {"max", r.plan.max_cell},
            {"mean", r.plan.mean_cell},
            {"imbalance", r.plan.imbalance}}},
          {"slices", slices},
          {"seconds", {{"read", r.read_s}, {"plan", r.plan_s}, {"write", r.write_s}, {"index", r.index_s}}}};
}

std::string report_text(const IngestReport& r, const PlanConfig& plan) {
  return fmt::format(
      "Ingested {} records from {}\n"
      "  train {}, public {}, test {}; {} labels\n"
      "  plan: {} shards x {} slices ({}), slice sizes {}..{} (mean {:.1f}, imbalance {:.1f}%)\n"
      "  {} files written; read {:.2f} s, plan {:.2f} s, write {:.2f} s, index {:.2f} s",
      r.records, r.source, r.train, r.public_records, r.test, r.labels.size(), plan.shards,
      plan.slices, plan.strategy, r.plan.min_cell, r.plan.max_cell, r.plan.mean_cell,
      r.plan.imbalance * 100, r.slices.size(), r.read_s, r.plan_s, r.write_s, r.index_s);
}

}  // namespace

IngestReport run_ingest(Context& ctx, bool append) {
  auto w = open_workspace_for_write(ctx.options.workspace, ctx.command_line);
  const auto t0 = std::chrono::steady_clock::now();
  ctx.log->info("reading {}", ctx.config.data.source);
  LoadedSource source = load_source(ctx.config.data);
  const double read_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  IngestOptions options;
  options.append = append;
  options.progress = ctx.progress();
  IngestReport report = ingest(w.ws, ctx.config, std::move(source), options, *ctx.log);
  report.read_s = read_s;
  // The workspace's lethe.toml records the data and plan rules now in force, so that later
  // commands (and --append) use them without repeating the flags.
  Config stored = w.ws.config;
  stored.data = ctx.config.data;
  stored.plan = ctx.config.plan;
  write_file_atomic(config_file(w.ws.root), config_to_toml(stored));
  return report;
}

void add_ingest_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "ingest",
      "Load records into the workspace: split them into train, public (base model only) and "
      "test records, plan the train records into shards x slices, write one HDF5 file per "
      "slice and record every record's place in the lineage index. All or nothing.");
  auto flags = std::make_shared<IngestFlags>();
  auto shards = std::make_shared<std::optional<int64_t>>();
  auto slices = std::make_shared<std::optional<int64_t>>();
  auto strategy = std::make_shared<std::optional<std::string>>();
  auto limit = std::make_shared<std::optional<int64_t>>();
  cmd->add_option("--dataset", flags->dataset, "Built-in dataset: fashion-mnist, fortunes or wordnet (read from data.path when it was set for this dataset, else from its Debian package)")
      ->check(CLI::IsMember({"fashion-mnist", "fortunes", "wordnet"}));
  cmd->add_option("--jsonl", flags->jsonl, "JSONL file, one record per line (fields: data.*_field)");
  cmd->add_option("--csv", flags->csv, "CSV file with a header row (fields: data.*_field)");
  cmd->add_flag("--append", flags->append,
                "Add records to a workspace that has data (same plan rules required)");
  cmd->add_option("--shards", *shards, "Number of shards (plan.shards)");
  cmd->add_option("--slices", *slices, "Slices per shard (plan.slices)");
  cmd->add_option("--strategy", *strategy, "Plan strategy: owner or random (plan.strategy)");
  cmd->add_option("--limit", *limit, "Ingest at most N records (data.limit)");
  commands.push_back({cmd, [=](Context& ctx) {
                        apply_source_flags(*flags, ctx.config.data);
                        if (*shards) apply_config_override("plan.shards=" + std::to_string(**shards), ctx.config);
                        if (*slices) apply_config_override("plan.slices=" + std::to_string(**slices), ctx.config);
                        if (*strategy) apply_config_override("plan.strategy=" + **strategy, ctx.config);
                        if (*limit) apply_config_override("data.limit=" + std::to_string(**limit), ctx.config);
                        const IngestReport r = run_ingest(ctx, flags->append);
                        ctx.out.result(report_json(r), report_text(r, ctx.config.plan));
                      }});
}

}  // namespace lethe
