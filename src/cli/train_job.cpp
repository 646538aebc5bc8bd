#include "src/cli/train_job.h"

#include <fmt/format.h>

namespace lethe {

void open_job_workspace(Context& ctx, JobWorkspace& job) {
  if (ctx.comm.is_root()) job.writable.emplace(open_workspace_for_write(ctx.options.workspace, ctx.command_line));
  barrier(ctx.comm);
  if (!ctx.comm.is_root()) job.readonly.emplace(open_workspace(ctx.options.workspace));
}

nlohmann::json train_report_json(const TrainReport& r) {
  nlohmann::json seqs = nlohmann::json::object();
  for (const auto& [shard, s] : r.sequences) seqs[std::to_string(shard)] = s;
  nlohmann::json ranks = nlohmann::json::array();
  for (const RankTotals& t : r.ranks) {
    nlohmann::json j = rank_totals_json(t, r.seconds);
    j.erase("losses");  // node_losses has them all
    ranks.push_back(j);
  }
  return {{"mode", r.mode},
          {"shards", r.shards},
          {"nodes", r.nodes},
          {"nodes_trained", r.nodes_trained},
          {"nodes_reused", r.nodes_reused},
          {"nodes_left", r.nodes_left},
          {"stages_without_sharing", r.stages_without_sharing},
          {"stages_saved_by_sharing", r.stages_without_sharing - r.nodes},
          {"samples", r.samples},
          {"seconds", r.seconds},
          {"ranks", ranks},
          {"node_losses", r.node_losses},
          {"sequences", seqs}};
}

std::string train_report_text(const TrainReport& r, const std::string& verb) {
  std::string per_rank;
  for (const RankTotals& t : r.ranks) {
    const std::string shared = t.group_nodes > 0 ? fmt::format(" ({} with its rank group)", t.group_nodes) : "";
    per_rank += fmt::format("\n  rank {}: {} nodes trained{}, {} reused, {} samples; {:.1f} s training ({:.0f}% of the "
                            "run), {:.1f} s communicating, {:.1f} s committing, {:.1f} s waiting",
                            t.rank, t.nodes_trained, shared, t.nodes_reused, t.samples, t.train_seconds,
                            r.seconds > 0 ? 100 * t.train_seconds / r.seconds : 0.0, t.communicate_seconds,
                            t.commit_seconds, t.wait_seconds);
  }
  const std::string left = r.nodes_left > 0 ? fmt::format(", {} left for a later run (--max-nodes)", r.nodes_left) : "";
  return fmt::format("{} {} ({} shards) on {} rank{}: {} nodes, {} trained and {} kept{}; {} stages in all "
                     "sequences, {} saved by prefix sharing; {} samples in {:.1f} s{}",
                     verb, r.mode, r.shards, r.ranks.size(), r.ranks.size() == 1 ? "" : "s", r.nodes, r.nodes_trained,
                     r.nodes_reused, left, r.stages_without_sharing, r.stages_without_sharing - r.nodes, r.samples,
                     r.seconds, per_rank);
}

}  // namespace lethe
