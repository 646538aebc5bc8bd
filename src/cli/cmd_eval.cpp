// lethe eval: the serving ensemble's accuracy (and, for text models, perplexity) on the test
// split, per shard too, and with --mia a membership-inference check of forgetting.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include <optional>

#include "src/cli/context.h"
#include "src/serving/ensemble.h"
#include "src/trainers/workspace_data.h"
#include "src/unlearning/membership_inference.h"

namespace lethe {

namespace {

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

void add_eval_command(CLI::App& root, std::vector<Command>& commands) {
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
