// The serving rule (shards/live_view.h) on small in-memory fixtures: no workspace, no training.
// A fixture's liveness predicate is a set of live node names per shard.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "shards/live_view.h"
#include "shards/prefix_tree.h"

using namespace lethe;

namespace {

using LiveNames = std::map<int, std::set<std::string>>;

NodeLive live_in(const LiveNames& names) {
  return [names](const NodeRef& n) {
    const auto it = names.find(n.shard);
    return it != names.end() && it->second.count(n.name) > 0;
  };
}

// Every prefix of every sequence of `shard`: the whole tree live.
std::set<std::string> all_prefixes(const std::vector<Sequence>& seqs) {
  std::set<std::string> out;
  for (const Sequence& s : seqs) {
    for (size_t n = 1; n <= s.size(); ++n) out.insert(prefix_name(Sequence(s.begin(), s.begin() + static_cast<long>(n))));
  }
  return out;
}

std::vector<std::string> names(const std::vector<NodeRef>& nodes) {
  std::vector<std::string> out;
  for (const NodeRef& n : nodes) out.push_back(n.name);
  return out;
}

const std::vector<Sequence> kSeqs = {{0, 1, 2, 3}, {3, 0, 1, 2}};

}  // namespace

TEST_CASE("live view: each shard serves its sequence with the longest live prefix", "[live_view]") {
  LiveNames live = {{0, all_prefixes(kSeqs)}};
  live[0].erase("0.1");  // 0|1.. keeps 1 stage (and 0.1.2, 0.1.2.3 live but cut off), 3.0|1.. keeps 2
  live[0].erase("3.0.1");
  const LiveView v = live_view(Mode::kS3t, {{0, kSeqs}}, live_in(live), false);
  REQUIRE(v.shards.size() == 1);
  const ShardLive& s = v.shards[0];
  CHECK(s.live_prefix == std::vector<int>{1, 2});
  CHECK(s.serving == 1);
  CHECK(s.serving_length == 2);
  CHECK(names(s.chains[1]) == std::vector<std::string>{"3", "3.0", "3.0.1", "3.0.1.2"});
  // Nodes after the first dead one are dirty even when live themselves: they serve only after
  // their ancestors. Each once, in the order the chains reach them.
  CHECK(names(s.dirty()) == std::vector<std::string>{"0.1", "0.1.2", "0.1.2.3", "3.0.1", "3.0.1.2"});
  CHECK(v.serving_shards() == 1);
}

TEST_CASE("live view: among equally long live prefixes the lowest sequence index serves", "[live_view]") {
  const LiveView whole = live_view(Mode::kS3t, {{0, kSeqs}}, live_in({{0, all_prefixes(kSeqs)}}), false);
  CHECK(whole.shards[0].serving == 0);
  CHECK(whole.shards[0].serving_length == 4);
  CHECK(whole.shards[0].dirty().empty());
  // Both cut to one stage: still the first.
  const LiveView cut = live_view(Mode::kS3t, {{0, kSeqs}}, live_in({{0, {"0", "3"}}}), false);
  CHECK(cut.shards[0].live_prefix == std::vector<int>{1, 1});
  CHECK(cut.shards[0].serving == 0);
  CHECK(cut.shards[0].serving_length == 1);
}

TEST_CASE("live view: a shard whose first stages are all dead drops out", "[live_view]") {
  LiveNames live = {{0, all_prefixes(kSeqs)}, {1, all_prefixes(kSeqs)}};
  live[1].erase("0");
  live[1].erase("3");  // every first stage of shard 1: its later stages cannot serve
  const LiveView v = live_view(Mode::kS3t, {{0, kSeqs}, {1, kSeqs}}, live_in(live), false);
  REQUIRE(v.shards.size() == 2);
  CHECK(v.shards[0].serving == 0);
  CHECK(v.shards[1].serving == -1);
  CHECK(v.shards[1].serving_length == 0);
  CHECK(v.shards[1].live_prefix == std::vector<int>{0, 0});
  CHECK(v.shards[1].dirty().size() == all_prefixes(kSeqs).size());  // the whole tree
  CHECK(v.serving_shards() == 1);
}

TEST_CASE("live view: a hypothetical predicate switches off what touches a deleted slice", "[live_view]") {
  // The replay's question: live now and touching no slice a simulated deletion reached.
  const LiveNames now = {{0, all_prefixes(kSeqs)}};
  const std::set<int> hit = {1};
  const NodeLive after = [&](const NodeRef& n) {
    for (int l : n.prefix) {
      if (hit.count(l)) return false;
    }
    return live_in(now)(n);
  };
  const LiveView v = live_view(Mode::kS3t, {{0, kSeqs}}, after, false);
  CHECK(v.shards[0].live_prefix == std::vector<int>{1, 2});  // 0|1.., 3.0|1..
  CHECK(v.shards[0].serving == 1);
  CHECK(names(v.shards[0].dirty()) == std::vector<std::string>{"0.1", "0.1.2", "0.1.2.3", "3.0.1", "3.0.1.2"});
  // The nodes carry their slices, so a predicate can reason about them.
  CHECK(v.shards[0].chains[1][1].prefix == Sequence{3, 0});
  CHECK(v.shards[0].chains[1][1].shard == 0);
}

TEST_CASE("live view: sisa serves the longest live prefix of its one sequence", "[live_view]") {
  const std::vector<Sequence> order = {{0, 1, 2}};
  const LiveView v = live_view(Mode::kSisa, {{0, order}}, live_in({{0, {"0", "0.1"}}}), false);
  CHECK(v.shards[0].serving == 0);
  CHECK(v.shards[0].serving_length == 2);
  CHECK(names(v.shards[0].dirty()) == std::vector<std::string>{"0.1.2"});
}

TEST_CASE("live view: full serves its one model when live", "[live_view]") {
  const LiveView on = live_view(Mode::kFull, {{0, kSeqs}}, live_in({{-1, {"all"}}}), false);
  REQUIRE(on.shards.size() == 1);  // the sequences play no part
  CHECK(on.shards[0].shard == -1);
  CHECK(on.shards[0].serving == 0);
  CHECK(names(on.shards[0].chains[0]) == std::vector<std::string>{"all"});
  CHECK(on.sequences.empty());
  const LiveView off = live_view(Mode::kFull, {}, live_in({}), false);
  CHECK(off.serving_shards() == 0);
}

TEST_CASE("live view: dp2 serves the deployed model after its base, the base alone only if allowed", "[live_view]") {
  const LiveNames both = {{-1, {"dp_base", "deployed"}}}, base = {{-1, {"dp_base"}}}, deployed = {{-1, {"deployed"}}};
  for (bool serve_dp_base : {false, true}) {
    const LiveView v = live_view(Mode::kDp2, {}, live_in(both), serve_dp_base);
    CHECK(v.shards[0].serving == 0);
    CHECK(v.shards[0].serving_length == 2);
    CHECK(names(v.shards[0].chains[0]) == std::vector<std::string>{"dp_base", "deployed"});
  }
  CHECK(live_view(Mode::kDp2, {}, live_in(base), true).shards[0].serving_length == 1);
  CHECK(live_view(Mode::kDp2, {}, live_in(base), false).shards[0].serving == -1);
  // The deployed model never serves without its base.
  CHECK(live_view(Mode::kDp2, {}, live_in(deployed), true).shards[0].serving == -1);
}
