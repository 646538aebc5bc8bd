#include "src/trainers/epoch_order.h"

#include <torch/torch.h>

#include <algorithm>

namespace lethe {

std::vector<uint32_t> EpochOrder::rows(int64_t step) const {
  const auto* o = order.data_ptr<int64_t>();
  std::vector<uint32_t> out;
  for (int64_t i = step * batch_size; i < std::min(n, (step + 1) * batch_size); ++i) {
    out.push_back(static_cast<uint32_t>(o[i]));
  }
  return out;
}

EpochOrder epoch_order(int64_t n, int64_t batch_size, at::Generator& generator) {
  EpochOrder e;
  e.order = torch::randperm(n, generator, torch::kInt64);
  e.n = n;
  e.batch_size = batch_size;
  return e;
}

}  // namespace lethe
