// The prefix tree of a shard's sequences. Sequences that start with the same slices share
// those stages: stage i of a sequence depends only on its first i slices (and the base), so
// each distinct prefix is trained once, as one node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shards/sequences.h"

namespace lethe {

struct PrefixNode {
  Sequence prefix;  // the slices seen, in training order; stage = prefix.size()
  int parent = -1;  // index of the node one slice shorter, -1 for a first stage
};

struct PrefixTree {
  std::vector<PrefixNode> nodes;  // parents before children: by length, then by prefix
  std::vector<std::vector<int>> path;  // per sequence: its nodes, stage 1 first
  int stages_without_sharing = 0;      // B x L, what training every sequence alone would cost
};

PrefixTree build_prefix_tree(const std::vector<Sequence>& sequences);

// "2.0.1": the prefix's slices joined by dots (the node's name in the index).
std::string prefix_name(const Sequence& prefix);

// The seed of node (kind, shard, prefix): derived from its identity and the content hashes of the
// slices it has seen, never from run order or rank, so that one rank or many, first training
// or retraining, draw the same numbers for the same inputs (design invariant 4).
uint64_t node_seed(uint64_t seed, const std::string& kind, int shard, const Sequence& prefix,
                   const std::vector<std::string>& slice_hashes);

}  // namespace lethe
