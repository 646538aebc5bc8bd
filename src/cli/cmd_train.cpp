// lethe train: the training job of a mode (s3t, or the sisa and full baselines) over every
// rank of an mpirun (or alone); lethe eval: the serving ensemble's accuracy (and, for text
// models, perplexity) on the test split.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include <optional>

#include "src/cli/context.h"
#include "src/cli/train_job.h"
#include "src/common/error.h"
#include "src/index/workspace_plan.h"
#include "src/serving/ensemble.h"
#include "src/trainers/train_run.h"
#include "src/trainers/workspace_data.h"
#include "src/unlearning/membership_inference.h"

namespace lethe {

namespace {

struct TrainFlags {
  bool resume = false;  // the default behaviour, named for scripts
  bool from_scratch = false;
  std::optional<std::string> mode;
  std::optional<int64_t> shards, slices, budget;
};

struct EvalFlags {
  std::optional<std::string> mode;
  bool vote = false;
  bool mia = false;
};

nlohmann::json auc_json(const std::optional<double>& auc) { return auc ? nlohmann::json(*auc) : nlohmann::json(nullptr); }
std::string auc_text(const std::optional<double>& auc) { return auc ? fmt::format("{:.3f}", *auc) : "n/a"; }

// The forgetting check: membership-inference AUCs. The headline sets each record's loss under
// its own shard's model against its losses under the other shards' models (same records on
// both sides); the comparison against test records is kept, labelled for what it measures.
void add_mia(Context& ctx, Workspace& ws, const std::string& mode, nlohmann::json& result, std::string& human) {
  const MiaReport m = membership_inference(ws, ctx.config, mode, ctx.comm);
  const auto group = [](const MiaGroup& g) { return nlohmann::json{{"records", g.records}, {"mean_loss", g.mean_loss}}; };
  result["mia"] = {{"deleted_own_shard_auc", auc_json(m.deleted_own_shard)},
                   {"retained_own_shard_auc", auc_json(m.retained_own_shard)},
                   {"deleted_own_shard_records", m.deleted_own_shard_records},
                   {"deleted_vs_test_auc", auc_json(m.deleted_vs_test)},
                   {"retained_vs_test_auc", auc_json(m.retained_vs_test)},
                   {"deleted", group(m.deleted)},
                   {"retained", group(m.retained)},
                   {"test", group(m.test)},
                   {"deleted_missing_from_source", m.deleted_missing},
                   {"source", m.source}};
  human += fmt::format(
      "\n  membership inference (loss threshold; AUC 0.5 = no signal; it can reveal memory, not prove its absence):"
      "\n    deleted records, own shard's model vs the other shards' (same records): AUC {} ({} records{}); should "
      "be near 0.5"
      "\n    retained records, same comparison (the test's power; near 0.5 means it can show nothing): AUC {}"
      "\n    against never-seen test records (different records: also measures how the groups differ, e.g. one "
      "owner's records resembling each other):"
      "\n      deleted vs test: AUC {} ({} records, mean loss {:.4f}{})"
      "\n      retained vs test: AUC {} ({} records, mean loss {:.4f}); test mean loss {:.4f} ({} records)",
      auc_text(m.deleted_own_shard), m.deleted_own_shard_records,
      m.deleted_own_shard ? "" : "; needs two or more serving shards", auc_text(m.retained_own_shard),
      auc_text(m.deleted_vs_test), m.deleted.records, m.deleted.mean_loss,
      m.deleted_missing > 0 ? fmt::format("; {} deleted records no longer in {}", m.deleted_missing, m.source) : "",
      auc_text(m.retained_vs_test), m.retained.records, m.retained.mean_loss, m.test.mean_loss, m.test.records);
}

// --mode/--budget override the config like --set does; --shards/--slices must name the
// workspace's plan, which ingest fixed (the slice files are cut to it).
void apply_train_flags(Context& ctx, const TrainFlags& f, Workspace& ws) {
  if (f.mode) apply_config_override("train.mode=" + *f.mode, ctx.config);
  if (f.budget) apply_config_override("train.sequences=" + std::to_string(*f.budget), ctx.config);
  const WorkspacePlan plan = read_plan(ws.db);
  const int64_t shards = plan.shards, slices = plan.slices;
  if ((f.shards && *f.shards != shards) || (f.slices && *f.slices != slices)) {
    fail(ErrorKind::kUsage,
         "workspace '{}' was planned into {} shards x {} slices when its data was ingested; "
         "--shards {} --slices {} needs a new plan: ingest into a new workspace with "
         "'lethe ingest --shards N --slices L'",
         ws.root.string(), shards, slices, f.shards.value_or(shards), f.slices.value_or(slices));
  }
}

void run_train(Context& ctx, const TrainFlags& flags) {
  JobWorkspace job;
  open_job_workspace(ctx, job);
  apply_train_flags(ctx, flags, job.ws());
  TrainOptions options;
  options.from_scratch = flags.from_scratch;
  const TrainReport r = train_model(job.ws(), ctx.comm, ctx.config, options, ctx.progress(), *ctx.log);
  if (!ctx.comm.is_root()) return;
  ctx.out.result(train_report_json(r), train_report_text(r, "Trained"));
}

void run_eval(Context& ctx, const EvalFlags& flags) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const std::string mode = flags.mode.value_or(ctx.config.train.mode);
  const Ensemble e = load_ensemble(ws, ctx.config, mode);
  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const std::vector<uint32_t> rows = live_rows(ws.db, test_slice.slice_id);
  const bool lm = e.base.spec.arch == "llama";
  const EnsembleOutputs o = run_ensemble(ctx.comm, e, test, rows, flags.vote ? Combine::kVote : Combine::kMean, lm);
  if (!ctx.comm.is_root()) {
    if (flags.mia) membership_inference(ws, ctx.config, mode, ctx.comm);  // its ensemble runs span the ranks
    return;
  }

  const double accuracy = rows.empty() ? 0.0 : o.predicted.eq(o.labels).to(torch::kFloat64).mean().item<double>();
  nlohmann::json result = {{"mode", mode},
                           {"combine", flags.vote ? "vote" : "mean"},
                           {"accuracy", accuracy},
                           {"records", rows.size()},
                           {"live_shards", e.view.live.size()},
                           {"total_shards", e.view.total_shards}};
  std::string human = fmt::format("{} ensemble of {} of {} shards ({}): accuracy {:.2f}%", mode,
                                  e.view.live.size(), e.view.total_shards, flags.vote ? "majority vote" : "mean logits",
                                  100 * accuracy);
  if (lm) {
    result["perplexity"] = perplexity(o.nll, o.tokens);
    result["tokens"] = o.tokens.sum().item<int64_t>();
    human += fmt::format(", perplexity {:.2f}", result["perplexity"].get<double>());
  }
  human += fmt::format(" on {} test records", rows.size());
  nlohmann::json shards = nlohmann::json::array();
  for (size_t i = 0; i < e.view.live.size(); ++i) {
    const ShardView& sv = e.view.live[i];
    const double acc = rows.empty() ? 0.0 : o.member_logits[static_cast<int64_t>(i)].argmax(-1).eq(o.labels)
                                                .to(torch::kFloat64).mean().item<double>();
    nlohmann::json s = {{"shard", sv.shard}, {"sequence", sv.sequence}, {"stages", sv.chain.size()}, {"accuracy", acc}};
    std::string line = fmt::format("\n  shard {}: sequence {}, {} live stages, accuracy {:.2f}%", sv.shard,
                                   sv.sequence, sv.chain.size(), 100 * acc);
    if (lm) {
      s["perplexity"] = perplexity(o.member_nll[static_cast<int64_t>(i)], o.tokens);
      line += fmt::format(", perplexity {:.2f}", s["perplexity"].get<double>());
    }
    if (sv.shard < 0) {
      s.erase("sequence");
      line = fmt::format("\n  full model: accuracy {:.2f}%", 100 * acc);
    }
    shards.push_back(s);
    human += line;
  }
  result["shards"] = shards;
  if (flags.mia) add_mia(ctx, ws, mode, result, human);
  ctx.out.result(result, human);
}

}  // namespace

void add_train_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* train = root.add_subcommand(
      "train",
      "Train the mode in train.mode: s3t (per shard, B slice sequences; stage i of a sequence "
      "trains LoRA group i and a head on its first i slices; shared prefixes train once), or "
      "the baselines sisa and full. Runs alone or as 'mpirun -np R lethe train' (shards spread "
      "over ranks; the same checkpoints for any R). Nodes already trained on the same data are "
      "kept, so an interrupted run resumes. Settings: [train], [lora]");
  auto tf = std::make_shared<TrainFlags>();
  train->add_option("--mode", tf->mode, "s3t, sisa or full (train.mode)");
  train->add_flag("--resume", tf->resume,
                  "Keep every verified node already trained on the same inputs and train the rest. "
                  "This is always what train does (training is idempotent); the flag names it");
  train->add_flag("--from-scratch", tf->from_scratch,
                  "Train every node again, ignoring the live ones (they are replaced); the result is "
                  "what a first training on the current data gives")
      ->excludes(train->get_option("--resume"));
  train->add_option("--budget", tf->budget, "Sequences per shard, B (train.sequences)");
  train->add_option("--shards", tf->shards, "Shards m: must match the plan made at ingest");
  train->add_option("--slices", tf->slices, "Slices per shard L: must match the plan made at ingest");
  commands.push_back({train, [tf](Context& ctx) { run_train(ctx, *tf); }, true, true});

  auto* eval = root.add_subcommand(
      "eval",
      "Evaluate the serving ensemble (per shard, the longest live prefix; mean logits) on the "
      "test split: accuracy, and perplexity for text (llama) models, with per-shard detail. "
      "Runs alone or under mpirun (records spread over ranks; the same result for any R)");
  auto ef = std::make_shared<EvalFlags>();
  eval->add_option("--mode", ef->mode, "Which trained model to evaluate: s3t, sisa or full (default: train.mode)");
  eval->add_flag("--vote", ef->vote, "Combine the shards by majority vote instead of mean logits");
  eval->add_flag("--mia", ef->mia,
                 "Also run a loss-threshold membership-inference test. Headline: how often a deleted record "
                 "(read back from the configured data source) has lower loss under its own shard's model than "
                 "under the other shards' models, each centred on its test loss; same records on both sides, so "
                 "it should sit near 0.5 after forgetting even for one owner's similar records (needs two or more "
                 "serving shards). Retained records give the test's power. Also the older AUCs against test "
                 "records, which compare different records and so also measure how the groups differ");
  commands.push_back({eval, [ef](Context& ctx) { run_eval(ctx, *ef); }, true, true});
}

}  // namespace lethe
