#include "shards/prefix_tree.h"

#include <map>

#include "shards/plan.h"

namespace lethe {

PrefixTree build_prefix_tree(const std::vector<Sequence>& sequences) {
  PrefixTree tree;
  // Every prefix of every sequence, ordered by (length, prefix): parents come first.
  std::map<std::pair<size_t, Sequence>, int> index;
  for (const Sequence& s : sequences) {
    for (size_t n = 1; n <= s.size(); ++n) index[{n, Sequence(s.begin(), s.begin() + static_cast<long>(n))}] = -1;
    tree.stages_without_sharing += static_cast<int>(s.size());
  }
  for (auto& [key, id] : index) {
    PrefixNode node;
    node.prefix = key.second;
    if (key.first > 1) {
      node.parent = index.at({key.first - 1, Sequence(node.prefix.begin(), node.prefix.end() - 1)});
    }
    id = static_cast<int>(tree.nodes.size());
    tree.nodes.push_back(std::move(node));
  }
  for (const Sequence& s : sequences) {
    std::vector<int> path;
    for (size_t n = 1; n <= s.size(); ++n) path.push_back(index.at({n, Sequence(s.begin(), s.begin() + static_cast<long>(n))}));
    tree.path.push_back(std::move(path));
  }
  return tree;
}

std::string prefix_name(const Sequence& prefix) {
  std::string name;
  for (int slice : prefix) name += (name.empty() ? "" : ".") + std::to_string(slice);
  return name;
}

uint64_t node_seed(uint64_t seed, const std::string& kind, int shard, const Sequence& prefix,
                   const std::vector<std::string>& slice_hashes) {
  std::string identity = kind + "/" + std::to_string(shard) + "/" + prefix_name(prefix);
  for (const std::string& h : slice_hashes) identity += "/" + h;
  return hash64(identity, seed);
}

}  // namespace lethe
