// Minibatches of an epoch: a seeded permutation of the records, cut into consecutive batches.
// Both the base trainer and the S3T stages draw their batches this way, from a generator that
// depends only on their seed, so the order never depends on threads or ranks.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace lethe {

struct EpochOrder {
  at::Tensor order;  // int64 [n], a permutation of 0..n-1
  int64_t n = 0;
  int64_t batch_size = 1;

  int64_t steps() const { return (n + batch_size - 1) / batch_size; }
  // The rows of minibatch `step` (the last one may be short).
  std::vector<uint32_t> rows(int64_t step) const;
};

// Draws the next epoch's permutation from `generator`.
EpochOrder epoch_order(int64_t n, int64_t batch_size, at::Generator& generator);

}  // namespace lethe
