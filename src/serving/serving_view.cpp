#include "src/serving/serving_view.h"

#include "src/index/workspace_plan.h"

namespace lethe {

std::vector<ComponentRow> IndexLiveView::rows(const std::vector<NodeRef>& chain, int length) const {
  std::vector<ComponentRow> out;
  for (int n = 0; n < length; ++n) {
    const NodeRef& node = chain[static_cast<size_t>(n)];
    out.push_back(components.at({node.shard, node.name}));
  }
  return out;
}

IndexLiveView live_in_index(Workspace& ws, const std::string& mode, bool serve_dp_base) {
  if (!find_mode(mode)) (void)recorded_sequences(ws.db, mode);  // no mode of that name was trained: kNotFound
  const ModeTraits& t = mode_traits(mode);
  IndexLiveView v;
  for (ComponentRow& c : live_components(ws.db, mode)) v.components[{c.shard, c.prefix}] = std::move(c);
  const auto sequences = t.sharded ? recorded_sequences(ws.db, mode) : std::map<int, std::vector<Sequence>>{};
  v.rule = live_view(t.mode, sequences,
                     [&](const NodeRef& n) { return v.components.count({n.shard, n.name}) > 0; }, serve_dp_base);
  if (t.sharded) {
    v.total_shards = read_plan(ws.db).shards;
  } else {
    v.total_shards = 1;
    // Nothing serves: say so as kNotFound when the mode was never trained.
    if (v.rule.serving_shards() == 0) (void)recorded_sequences(ws.db, mode);
  }
  return v;
}

View current_view(Workspace& ws, const std::string& mode, bool serve_dp_base) {
  const IndexLiveView v = live_in_index(ws, mode, serve_dp_base);
  View view;
  view.mode = mode;
  view.total_shards = v.total_shards;
  for (const ShardLive& s : v.rule.shards) {
    if (s.serving < 0) continue;
    view.live.push_back({s.shard, s.serving, v.rows(s.chains[static_cast<size_t>(s.serving)], s.serving_length)});
  }
  return view;
}

}  // namespace lethe
