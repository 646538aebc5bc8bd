#include "src/trainers/data_parallel.h"

#include <torch/torch.h>

#include <cstring>

#include "src/common/error.h"

namespace lethe {

bool uses_micro_batches(int64_t batch_size, int64_t micro_batch) { return micro_batch > 0 && micro_batch < batch_size; }

bool uses_micro_batches(const TrainConfig& train) { return uses_micro_batches(train.batch_size, train.micro_batch); }

int max_ranks_per_node(const TrainConfig& train) {
  if (!uses_micro_batches(train)) return 1;
  return static_cast<int>((train.batch_size + train.micro_batch - 1) / train.micro_batch);
}

std::vector<std::pair<int64_t, int64_t>> micro_batch_bounds(int64_t n, int64_t size) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (size <= 0) size = std::max<int64_t>(n, 1);
  for (int64_t b = 0; b < n; b += size) out.push_back({b, std::min(n, b + size)});
  return out;
}

std::pair<int64_t, int64_t> member_share(int64_t count, int rank, int size) {
  const int64_t r = rank, g = std::max(1, size);
  return {count * r / g, count * (r + 1) / g};
}

at::Generator micro_batch_generator(const ComputeDevice& device, uint64_t node_seed, int64_t step, int64_t m) {
  // splitmix64 of the position, mixed into the node's seed.
  uint64_t z = node_seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(step + 1)) ^
               (0xbf58476d1ce4e5b9ULL * static_cast<uint64_t>(m + 1));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  if (device.is_cuda()) return device_generator(device, z);
  return at::make_generator<at::CPUGeneratorImpl>(z);
}

// A micro-batch's record, as members send it and the leader sends the sum back: its scalars
// (double), its gradients (float32, the parameters in order), then one byte per parameter
// saying whether it has a gradient, padded to 8 bytes so that records can follow each other.
size_t StepReduction::record_bytes() const {
  return scalars_ * sizeof(double) + static_cast<size_t>(numel_) * sizeof(float) + (params_.size() + 7) / 8 * 8;
}

StepReduction::StepReduction(RankGroup& group, const std::vector<at::Tensor>& params, size_t scalars)
    : group_(group), params_(params), scalars_(scalars), scalar_sum_(scalars, 0.0), has_(params.size(), 0) {
  for (const at::Tensor& p : params_) {
    if (p.scalar_type() != at::kFloat) fail(ErrorKind::kInternal, "data-parallel reduction of a {} tensor", p.dtype().name());
    numel_ += p.numel();
  }
  sum_ = torch::zeros({numel_}, torch::kFloat);
}

// Adds the next micro-batch, in order: scalars, and per parameter its gradient (null: none,
// which adds nothing), on whichever side it was computed, so that the leader's own
// micro-batches and received ones give the same bits.
void StepReduction::fold(const double* scalars, const std::vector<const float*>& grads) {
  const bool first = folded_ == 0;
  for (size_t i = 0; i < scalars_; ++i) scalar_sum_[i] = first ? scalars[i] : scalar_sum_[i] + scalars[i];
  int64_t at = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t n = params_[i].numel();
    at::Tensor slot = sum_.narrow(0, at, n);
    if (grads[i] != nullptr) {
      const at::Tensor g = torch::from_blob(const_cast<float*>(grads[i]), {n}, torch::kFloat);
      if (first) {
        slot.copy_(g);  // not 0 + g, which would turn -0 into +0
      } else {
        slot.add_(g);   // element-wise: the same bits on any number of threads
      }
      has_[i] = 1;
    } else if (first) {
      slot.zero_();
    }
    at += n;
  }
  ++folded_;
}

void StepReduction::add(const std::vector<double>& scalars) {
  if (scalars.size() != scalars_) fail(ErrorKind::kInternal, "{} scalars for a reduction of {}", scalars.size(), scalars_);
  if (group_.is_leader()) {  // its micro-batches come first: add each at once
    std::vector<at::Tensor> keep;  // CPU copies, alive while fold reads them
    std::vector<const float*> grads;
    for (const at::Tensor& p : params_) {
      if (!p.grad().defined()) {
        grads.push_back(nullptr);
        continue;
      }
      keep.push_back(p.grad().detach().to(torch::kCPU).contiguous());
      grads.push_back(keep.back().data_ptr<float>());
    }
    fold(scalars.data(), grads);
    return;
  }
  const size_t at = mine_.size();
  mine_.resize(at + record_bytes(), '\0');
  char* out = mine_.data() + at;
  std::memcpy(out, scalars.data(), scalars_ * sizeof(double));
  out += scalars_ * sizeof(double);
  char* flags = mine_.data() + at + scalars_ * sizeof(double) + static_cast<size_t>(numel_) * sizeof(float);
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i];
    const size_t bytes = static_cast<size_t>(p.numel()) * sizeof(float);
    if (p.grad().defined()) {
      const at::Tensor g = p.grad().detach().to(torch::kCPU).contiguous();
      std::memcpy(out, g.data_ptr<float>(), bytes);
      flags[i] = 1;
    }
    out += bytes;
  }
}

std::vector<double> StepReduction::finish(const std::string& what) {
  const size_t record = record_bytes();
  const size_t floats_at = scalars_ * sizeof(double), flags_at = floats_at + static_cast<size_t>(numel_) * sizeof(float);
  const std::vector<std::string> parts = group_.gather(mine_, what);
  mine_.clear();  // keeps its capacity for the next step
  if (group_.is_leader()) {
    // The other members' blocks, in member order, are the step's remaining micro-batches in order.
    for (const std::string& part : parts) {
      if (part.size() % record != 0) fail(ErrorKind::kInternal, "{}: a member sent {} bytes", what, part.size());
      for (size_t at = 0; at < part.size(); at += record) {
        std::vector<double> scalars(scalars_);
        std::memcpy(scalars.data(), part.data() + at, scalars_ * sizeof(double));
        std::vector<const float*> grads;
        const char* g = part.data() + at + floats_at;
        for (size_t i = 0; i < params_.size(); ++i) {
          grads.push_back(part[at + flags_at + i] ? reinterpret_cast<const float*>(g) : nullptr);
          g += static_cast<size_t>(params_[i].numel()) * sizeof(float);
        }
        fold(scalars.data(), grads);
      }
    }
    if (folded_ == 0) {  // no micro-batch this step (DP-SGD sampled nothing): a zero sum
      sum_.zero_();
      std::fill(scalar_sum_.begin(), scalar_sum_.end(), 0.0);
    }
  }
  if (group_.size() > 1) {
    if (group_.is_leader()) {
      reply_.assign(record, '\0');
      std::memcpy(reply_.data(), scalar_sum_.data(), scalars_ * sizeof(double));
      std::memcpy(reply_.data() + floats_at, sum_.data_ptr<float>(), static_cast<size_t>(numel_) * sizeof(float));
      std::memcpy(reply_.data() + flags_at, has_.data(), has_.size());
    }
    reply_ = group_.broadcast(std::move(reply_), what);
    if (reply_.size() != record) fail(ErrorKind::kInternal, "{}: the leader sent {} bytes", what, reply_.size());
    if (!group_.is_leader()) {
      std::memcpy(scalar_sum_.data(), reply_.data(), scalars_ * sizeof(double));
      std::memcpy(sum_.data_ptr<float>(), reply_.data() + floats_at, static_cast<size_t>(numel_) * sizeof(float));
      std::memcpy(has_.data(), reply_.data() + flags_at, has_.size());
    }
  }
  torch::NoGradGuard no_grad;
  int64_t at = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i];
    at::Tensor& grad = const_cast<at::Tensor&>(p).mutable_grad();
    // A parameter no micro-batch reached keeps no gradient, as after a whole-batch backward
    // pass (AdamW then leaves it alone); the others get a tensor of their own, since the old
    // .grad may be shared with whatever the caller made it from.
    grad = has_[i] ? sum_.narrow(0, at, p.numel()).view(p.sizes()).to(p.device(), /*non_blocking=*/false, /*copy=*/true)
                   : at::Tensor();
    at += p.numel();
  }
  const std::vector<double> out = scalar_sum_;
  folded_ = 0;
  std::fill(has_.begin(), has_.end(), 0);
  return out;
}

double shared_step(RankGroup& group, StepReduction& reduction, const std::vector<uint32_t>& rows, int64_t micro_batch,
                   const std::function<void()>& zero_grad,
                   const std::function<at::Tensor(const std::vector<uint32_t>& part, int64_t m)>& loss_of,
                   const std::string& what) {
  const auto bounds = micro_batch_bounds(static_cast<int64_t>(rows.size()), micro_batch);
  const auto [first, last] = member_share(static_cast<int64_t>(bounds.size()), group.rank(), group.size());
  for (int64_t m = first; m < last; ++m) {
    const auto [b, e] = bounds[static_cast<size_t>(m)];
    const std::vector<uint32_t> part(rows.begin() + b, rows.begin() + e);
    const at::Tensor loss = loss_of(part, m);
    zero_grad();
    loss.backward();
    reduction.add({loss.item<double>()});
  }
  return reduction.finish(what)[0];
}

}  // namespace lethe
