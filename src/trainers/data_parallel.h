// Data parallelism inside one node's training, with a reduction whose order never depends on
// the number of ranks. A step's rows (DP-SGD: its sampled privacy units) are cut into
// micro-batches of train.micro_batch; their boundaries depend on the config alone. Each member
// of the node's rank group computes a contiguous block of them, one backward pass each; the
// group's leader sums every micro-batch's gradients in micro-batch order (m = 0, 1, 2, ...)
// and sends the sum back, and every member applies that same sum. One rank alone does exactly
// the same additions, so a node's bytes are the same for R = 1, 2, 3, ...
//
// With train.micro_batch = 0 (or >= batch_size) a step is one micro-batch and the trainers keep
// the whole-batch arithmetic they have always used; such a unit gets one rank.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "src/common/device.h"
#include "src/config/config.h"
#include "src/distributed/rank_group.h"

namespace lethe {

// Whether `micro_batch` cuts a step of `batch_size` into several micro-batches (and so changes
// the math): 0 < micro_batch < batch_size.
bool uses_micro_batches(int64_t batch_size, int64_t micro_batch);
bool uses_micro_batches(const TrainConfig& train);

// The most ranks that can share one node's steps: ceil(batch_size / micro_batch), 1 without
// micro-batches.
int max_ranks_per_node(const TrainConfig& train);

// [begin, end) of each micro-batch of `n` items cut into consecutive runs of `size`.
std::vector<std::pair<int64_t, int64_t>> micro_batch_bounds(int64_t n, int64_t size);

// The micro-batches [first, last) of `count` that member `rank` of a group of `size` computes:
// contiguous blocks in member order, their lengths differing by at most one.
std::pair<int64_t, int64_t> member_share(int64_t count, int rank, int size);

// The generator of micro-batch `m` of step `step` (LoRA dropout): seeded from the node's seed
// and the micro-batch's position, so it is the same on whichever rank computes it.
at::Generator micro_batch_generator(const ComputeDevice& device, uint64_t node_seed, int64_t step, int64_t m);

// The reduction of a node's optimiser steps, one step at a time. After each micro-batch this
// rank computes, add() takes the gradients left in `params` (.grad; undefined adds nothing)
// and the micro-batch's scalars (loss sums, counts); finish() writes the sum over every
// micro-batch of the step, in micro-batch order, into the params' .grad on every member (a
// parameter no micro-batch reached is left without one, as a whole-batch backward pass leaves
// it) and returns the summed scalars. The group's leader (or a rank alone) adds its own micro-batches
// as they come, since they are the step's first; the other members send theirs as bytes. The
// buffers are kept from step to step.
class StepReduction {
 public:
  StepReduction(RankGroup& group, const std::vector<at::Tensor>& params, size_t scalars);
  void add(const std::vector<double>& scalars);
  std::vector<double> finish(const std::string& what);

 private:
  size_t record_bytes() const;
  void fold(const double* scalars, const std::vector<const float*>& grads);  // the next micro-batch, in order

  RankGroup& group_;
  std::vector<at::Tensor> params_;
  size_t scalars_;
  int64_t numel_ = 0;
  int64_t folded_ = 0;          // micro-batches added to sum_ this step
  at::Tensor sum_;              // float32 [numel], on the CPU
  std::vector<double> scalar_sum_;
  std::vector<uint8_t> has_;    // per parameter: some micro-batch of this step gave it a gradient
  std::string mine_;            // a member's micro-batches: each its scalars (double), then gradients (float)
  std::string reply_;           // the leader's sum as bytes
};

// The gradients of one optimiser step shared by `group`: this rank's micro-batches of `rows`
// (cut by `micro_batch`), each through `loss_of(part, m)` (the micro-batch's loss, already
// divided by the whole step's divisors so that the micro-batches add up to the step's loss),
// `zero_grad` and a backward pass; then the fixed-order sum into the parameters' .grad on every
// member. Returns the step's loss. `what` names the step in a timeout's message.
double shared_step(RankGroup& group, StepReduction& reduction, const std::vector<uint32_t>& rows, int64_t micro_batch,
                   const std::function<void()>& zero_grad,
                   const std::function<at::Tensor(const std::vector<uint32_t>& part, int64_t m)>& loss_of,
                   const std::string& what);

}  // namespace lethe
