#include "shards/live_view.h"

#include <set>

#include "shards/prefix_tree.h"

namespace lethe {

namespace {

std::vector<std::vector<NodeRef>> chains_of(Mode mode, int shard, const std::vector<Sequence>& sequences) {
  switch (traits(mode).serving) {
    case Serving::kLongestChain:
    case Serving::kLastNode: {
      std::vector<std::vector<NodeRef>> chains;
      for (const Sequence& seq : sequences) {
        std::vector<NodeRef> chain;
        for (size_t n = 1; n <= seq.size(); ++n) {
          Sequence prefix(seq.begin(), seq.begin() + static_cast<long>(n));
          chain.push_back({shard, prefix_name(prefix), std::move(prefix)});
        }
        chains.push_back(std::move(chain));
      }
      return chains;
    }
    case Serving::kOneModel:
      return {{{-1, "all", {}}}};
    case Serving::kDeployedAfterBase:
      return {{{-1, "dp_base", {}}, {-1, "deployed", {}}}};
  }
  return {};
}

ShardLive shard_live(Mode mode, int shard, const std::vector<Sequence>& sequences, const NodeLive& live,
                     bool serve_dp_base) {
  ShardLive s;
  s.shard = shard;
  s.chains = chains_of(mode, shard, sequences);
  int best = 0;
  for (size_t b = 0; b < s.chains.size(); ++b) {
    int n = 0;
    while (n < static_cast<int>(s.chains[b].size()) && live(s.chains[b][static_cast<size_t>(n)])) ++n;
    s.live_prefix.push_back(n);
    if (n > best) {  // strictly longer: the lowest index among equals serves
      best = n;
      s.serving = static_cast<int>(b);
    }
  }
  s.serving_length = best;
  if (traits(mode).serving == Serving::kDeployedAfterBase && best == 1 && !serve_dp_base) {
    s.serving = -1;  // the DP base alone serves only when privacy.after_forget = "dp_base"
    s.serving_length = 0;
  }
  return s;
}

}  // namespace

std::vector<NodeRef> ShardLive::dirty() const {
  std::vector<NodeRef> out;
  std::set<std::string> seen;
  for (size_t b = 0; b < chains.size(); ++b) {
    for (size_t n = static_cast<size_t>(live_prefix[b]); n < chains[b].size(); ++n) {
      if (seen.insert(chains[b][n].name).second) out.push_back(chains[b][n]);
    }
  }
  return out;
}

int LiveView::serving_shards() const {
  int n = 0;
  for (const ShardLive& s : shards) n += s.serving >= 0 ? 1 : 0;
  return n;
}

LiveView live_view(Mode mode, const std::map<int, std::vector<Sequence>>& sequences, const NodeLive& live,
                   bool serve_dp_base) {
  LiveView v;
  v.mode = mode;
  if (traits(mode).sharded) {
    v.sequences = sequences;
    for (const auto& [shard, seqs] : sequences) v.shards.push_back(shard_live(mode, shard, seqs, live, serve_dp_base));
  } else {
    v.shards.push_back(shard_live(mode, -1, {}, live, serve_dp_base));
  }
  return v;
}

}  // namespace lethe
