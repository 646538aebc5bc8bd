#include "src/trainers/predict.h"

#include <torch/torch.h>

#include <algorithm>

#include "src/models/inputs.h"

namespace lethe {

Predictions predict_rows(const ModelSpec& spec, const Weights& weights, const LoraSet* lora,
                         const RecordBatch& batch, const std::vector<uint32_t>& rows,
                         int64_t chunk) {
  torch::NoGradGuard no_grad;
  ForwardOptions o;
  o.lora = lora;
  std::vector<at::Tensor> logits, labels;
  for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(chunk)) {
    const auto end = rows.begin() + static_cast<long>(std::min(rows.size(), start + static_cast<size_t>(chunk)));
    const LabeledInput li = make_input(spec, batch, std::vector<uint32_t>(rows.begin() + static_cast<long>(start), end));
    logits.push_back(forward(spec, weights, li.input, o).logits);
    labels.push_back(li.labels);
  }
  Predictions p;
  if (!rows.empty()) {
    p.logits = torch::cat(logits);
    p.labels = torch::cat(labels);
  }
  return p;
}

double accuracy_of(const at::Tensor& logits, const at::Tensor& labels) {
  if (!logits.defined() || logits.size(0) == 0) return 0.0;
  const int64_t correct = logits.argmax(-1).eq(labels).sum().item<int64_t>();
  return static_cast<double>(correct) / static_cast<double>(logits.size(0));
}

}  // namespace lethe
