// Sequence selection: the B orders in which a shard's L slices are trained. A deletion in the
// slice at position n of a sequence switches off that sequence's stages n..L, so sequences
// that put likely-deleted slices late keep long prefixes alive.
#pragma once

#include <vector>

namespace lethe {

using Sequence = std::vector<int>;  // a permutation of the slice indices 0..L-1

// The first B right-rotations of 0..L-1 (0 1 2 3, 3 0 1 2, 2 3 0 1, ...). For B > L, more
// sequences come from fixing a prefix of each rotation and rotating the rest, one more fixed
// slice per round, skipping repeats. ErrorKind::kUsage when B exceeds L! (there are no more
// distinct orders) or B < 1.
std::vector<Sequence> cyclic_sequences(int slices, int count);

// Bipartite sequence selection (S3T's BMS). Sequences grow one position at a time; at
// position n every sequence gets one of its unused slices by a maximum-weight assignment
// (distinct slices across sequences while possible), the weight of giving slice l to
// sequence b being n * (1 - c_b - p_l)^t, where c_b is the cumulative deletion probability of
// b's slices so far. That is the n-th term of the score sum_n n * (1 - c_n)^t: the length of
// prefix n weighted by the chance that it survives t deletions. `probabilities` are the
// per-slice deletion probabilities (normalised here; all zero means uniform); `deletions`
// is t. ErrorKind::kUsage when count > slices or count < 1.
std::vector<Sequence> bms_sequences(const std::vector<double>& probabilities, int count,
                                    double deletions);

// The score of one sequence: sum over n of n * (1 - c_n)^t (with normalised probabilities).
double sequence_score(const Sequence& sequence, const std::vector<double>& probabilities,
                      double deletions);

}  // namespace lethe
