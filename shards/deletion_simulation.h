// A Monte Carlo simulator of deletion requests against an S3T plan, without training: how many
// deletions a configuration of m shards x L slices x B sequences survives before every shard
// has lost its model, and how fast the live prefixes shrink on the way.
//
// Model. Each deletion hits one cell (shard k, slice l), drawn with replacement from per-cell
// probabilities (a slice can be hit again). In every sequence of shard k the live stages end
// just before the position of l: a sequence's live prefix is the number of its leading slices
// not yet hit. The shard serves from its best sequence, so its live prefix is the maximum over
// its sequences; a shard whose live prefix is 0 is dead (it must retrain from the base), and the
// system fails when every shard is dead. In "sisa" mode (SISA without slice checkpoints) a
// shard is dead after its first deletion, whichever slice it hits.
//
// Closed forms for uniform deletions, which the simulator is tested against. A shard is dead
// exactly when the first slice of each of its sequences has been hit, so the system fails when
// all the distinct first slices of all shards have been hit. With cyclic sequences a shard has
// B' = min(B, L) distinct first slices, and each deletion hits one given cell with probability
// 1 / (m L): a coupon collector over m B' coupons among m L cells, expected m L H(m B') deletions
// (H = harmonic number). For sisa a deletion finds one given shard with probability 1 / m:
// m H(m) deletions.
//
// Deterministic for a seed on any machine: no std:: random distributions (their output differs
// between standard libraries), but a counter-based splitmix64 stream per trial derived from
// (seed, trial index), and draws by inverse CDF over the cumulative cell weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shards/sequences.h"

namespace lethe {

struct SimulationOptions {
  int shards = 4;                   // m
  int slices = 4;                   // L
  int sequences = 2;                // B per shard (ignored for sisa)
  std::string selection = "cyclic"; // cyclic | bms (ignored for sisa)
  std::string mode = "s3t";         // s3t | sisa
  int trials = 1000;
  int deletions = 0;                // length of the live-prefix curve: k = 0..deletions
  uint64_t seed = 42;
  double expected_deletions = 1;    // t for bms selection
};

struct SimulationResult {
  // Deletions until every shard is dead (the fatal one included), over trials. +infinity
  // (and NaN spreads) when some shard can never die: a cell that must be hit has weight 0,
  // e.g. bms put a never-deleted slice first.
  double mean_deletions_to_failure = 0;
  double stddev_deletions_to_failure = 0;  // sample standard deviation; 0 for one trial
  double stderr_deletions_to_failure = 0;  // of the mean: stddev / sqrt(trials)
  // m L H(D) for s3t, D the number of distinct first slices over all shards (m B' for cyclic);
  // m H(m) for sisa. NaN when the cell probabilities are not uniform.
  double closed_form = 0;
  // Index k = 0..deletions: after k deletions, the live prefix length averaged over trials and
  // shards (L at k = 0), and the mean number of shards with a live prefix (m at k = 0).
  std::vector<double> mean_live_prefix;
  std::vector<double> live_shards;
  // Per shard, the sequences as selected; empty for sisa (nothing is selected).
  std::vector<std::vector<Sequence>> sequences;
};

// `probabilities`: per shard, per slice deletion weights (any non-negative finite values with a
// positive sum, normalised over all m x L cells); empty = uniform. bms selection normalises each
// shard's row on its own. ErrorKind::kUsage naming the option for bad options or weights.
SimulationResult simulate_deletions(const SimulationOptions& options,
                                    const std::vector<std::vector<double>>& probabilities = {});

// H(n) = 1 + 1/2 + ... + 1/n; H(0) = 0. ErrorKind::kUsage for n < 0.
double harmonic(int n);

// Expected deletions to system failure for uniform deletions: m L H(m min(B, L)) for s3t with
// cyclic sequences, m H(m) for sisa (slices and sequences unused). ErrorKind::kUsage for
// counts < 1 or an unknown mode.
double closed_form_deletions_to_failure(int shards, int slices, int sequences,
                                        const std::string& mode);

// Zipf-law deletion weights: the m x L cells get ranks 1..m L in the order of a permutation drawn
// from `seed` (deterministic, any machine), and probabilities proportional to
// 1 / rank^exponent, normalised to sum 1. Exponent 0 is uniform. ErrorKind::kUsage for counts
// < 1 or an exponent that is negative or not finite.
std::vector<std::vector<double>> zipf_probabilities(int shards, int slices, double exponent,
                                                    uint64_t seed);

}  // namespace lethe
