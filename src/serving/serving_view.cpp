#include "src/serving/serving_view.h"

#include <map>

#include "shards/prefix_tree.h"
#include "src/index/workspace_plan.h"

namespace lethe {

View current_view(Workspace& ws, const std::string& mode, bool serve_dp_base) {
  View view;
  view.mode = mode;
  std::map<std::pair<int, std::string>, ComponentRow> live;
  for (ComponentRow& c : live_components(ws.db, mode)) live[{c.shard, c.prefix}] = std::move(c);
  if (mode == "dp2") {
    view.total_shards = 1;
    const auto base = live.find({-1, "dp_base"}), deployed = live.find({-1, "deployed"});
    if (base != live.end() && deployed != live.end()) {
      view.live.push_back({-1, 0, {base->second, deployed->second}});
    } else if (base != live.end() && serve_dp_base) {
      view.live.push_back({-1, 0, {base->second}});
    }
    if (view.live.empty()) (void)recorded_sequences(ws.db, mode);  // kNotFound before dp2 was trained
    return view;
  }
  if (mode == "full") {
    view.total_shards = 1;
    if (auto it = live.find({-1, "all"}); it != live.end()) view.live.push_back({-1, 0, {it->second}});
    if (view.live.empty()) (void)recorded_sequences(ws.db, mode);  // kNotFound before full was trained
    return view;
  }
  const auto sequences = recorded_sequences(ws.db, mode);
  view.total_shards = read_plan(ws.db).shards;
  for (const auto& [shard, seqs] : sequences) {
    ShardView best;
    best.shard = shard;
    for (size_t b = 0; b < seqs.size(); ++b) {
      std::vector<ComponentRow> chain;
      for (size_t n = 1; n <= seqs[b].size(); ++n) {
        const auto it = live.find({shard, prefix_name(Sequence(seqs[b].begin(), seqs[b].begin() + static_cast<long>(n)))});
        if (it == live.end()) break;
        chain.push_back(it->second);
      }
      if (chain.size() > best.chain.size()) {
        best.sequence = static_cast<int>(b);
        best.chain = std::move(chain);
      }
    }
    if (!best.chain.empty()) view.live.push_back(std::move(best));
  }
  return view;
}

}  // namespace lethe
