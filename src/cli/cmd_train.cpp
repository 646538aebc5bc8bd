// lethe train: S3T training of every shard's nodes; lethe eval: the serving ensemble's
// accuracy on the test split.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/cli/context.h"
#include "src/trainers/s3t.h"
#include "src/trainers/s3t_view.h"

namespace lethe {

namespace {

void run_train(Context& ctx) {
  auto w = open_workspace_for_write(ctx.options.workspace, ctx.command_line);
  const S3tReport r = train_s3t(w.ws, ctx.config, {}, ctx.progress(), *ctx.log);
  const int nodes = r.nodes_trained + r.nodes_reused;
  nlohmann::json seqs = nlohmann::json::object();
  for (const auto& [shard, s] : r.sequences) seqs[std::to_string(shard)] = s;
  ctx.out.result(
      {{"shards", r.shards},
       {"nodes_trained", r.nodes_trained},
       {"nodes_reused", r.nodes_reused},
       {"stages_without_sharing", r.stages_without_sharing},
       {"samples", r.samples},
       {"seconds", r.seconds},
       {"sequences", seqs}},
      fmt::format("Trained {} shards: {} nodes trained, {} reused (resume), {} stages in all "
                  "sequences ({} saved by prefix sharing); {} samples in {:.1f} s",
                  r.shards, r.nodes_trained, r.nodes_reused, r.stages_without_sharing,
                  r.stages_without_sharing - nodes, r.samples, r.seconds));
}

void run_eval(Context& ctx) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const EvalReport r = evaluate_s3t(ws, ctx.config, *ctx.log);
  nlohmann::json shards = nlohmann::json::array();
  std::string per_shard;
  for (size_t i = 0; i < r.view.live.size(); ++i) {
    const ShardView& sv = r.view.live[i];
    shards.push_back({{"shard", sv.shard}, {"sequence", sv.sequence}, {"stages", sv.chain.size()},
                      {"accuracy", r.shard_accuracy[i]}});
    per_shard += fmt::format("\n  shard {}: sequence {}, {} live stages, accuracy {:.2f}%", sv.shard,
                             sv.sequence, sv.chain.size(), 100 * r.shard_accuracy[i]);
  }
  ctx.out.result({{"accuracy", r.accuracy},
                  {"records", r.records},
                  {"live_shards", r.view.live.size()},
                  {"total_shards", r.view.total_shards},
                  {"shards", shards}},
                 fmt::format("Ensemble of {} of {} shards: accuracy {:.2f}% on {} test records{}",
                             r.view.live.size(), r.view.total_shards, 100 * r.accuracy, r.records,
                             per_shard));
}

}  // namespace

void add_train_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* train = root.add_subcommand(
      "train",
      "S3T training: per shard, B slice sequences; stage i of a sequence trains LoRA group i "
      "and a head on its first i slices. Shared prefixes train once; nodes already trained on "
      "the same data are kept (so an interrupted run resumes). Settings: [train], [lora]");
  commands.push_back({train, run_train});
  auto* eval = root.add_subcommand(
      "eval",
      "Accuracy of the serving ensemble (per shard, the longest live prefix; mean logits) on "
      "the test split, with per-shard detail");
  commands.push_back({eval, run_eval});
}

}  // namespace lethe
