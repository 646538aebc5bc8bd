#include "src/trainers/predict.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "src/models/inputs.h"
#include "src/trainers/losses.h"

namespace lethe {

namespace {

// Where `weights` are: the inputs go there.
c10::Device device_of(const Weights& weights) {
  return weights.empty() ? c10::Device(c10::kCPU) : weights.begin()->second.device();
}

}  // namespace

Predictions predict_rows(const ModelSpec& spec, const Weights& weights, const LoraSet* lora,
                         const RecordBatch& batch, const std::vector<uint32_t>& rows,
                         int64_t chunk) {
  torch::NoGradGuard no_grad;
  ForwardOptions o;
  o.lora = lora;
  std::vector<at::Tensor> logits, labels;
  for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(chunk)) {
    const auto end = rows.begin() + static_cast<long>(std::min(rows.size(), start + static_cast<size_t>(chunk)));
    const LabeledInput li = on_device(
        make_input(spec, batch, std::vector<uint32_t>(rows.begin() + static_cast<long>(start), end)), device_of(weights));
    logits.push_back(forward(spec, weights, li.input, o).logits.to(torch::kCPU));
    labels.push_back(li.labels.to(torch::kCPU));
  }
  Predictions p;
  if (!rows.empty()) {
    p.logits = torch::cat(logits);
    p.labels = torch::cat(labels);
  }
  return p;
}

double lm_perplexity(const ModelSpec& spec, const Weights& weights, const LoraSet* lora,
                     const RecordBatch& batch, const std::vector<uint32_t>& rows, int64_t chunk) {
  torch::NoGradGuard no_grad;
  ForwardOptions o;
  o.lora = lora;
  o.want_lm = true;
  double nll = 0;
  int64_t tokens = 0;
  for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(chunk)) {
    const auto end = rows.begin() + static_cast<long>(std::min(rows.size(), start + static_cast<size_t>(chunk)));
    const LabeledInput li = on_device(
        make_input(spec, batch, std::vector<uint32_t>(rows.begin() + static_cast<long>(start), end)), device_of(weights));
    const TokenNll t = token_nll(torch::log_softmax(forward(spec, weights, li.input, o).lm_logits, -1), li.input);
    nll += t.nll.sum().item<double>();
    tokens += t.tokens.sum().item<int64_t>();
  }
  return tokens == 0 ? 0.0 : std::exp(nll / static_cast<double>(tokens));
}

double accuracy_of(const at::Tensor& logits, const at::Tensor& labels) {
  if (!logits.defined() || logits.size(0) == 0) return 0.0;
  const int64_t correct = logits.argmax(-1).eq(labels).sum().item<int64_t>();
  return static_cast<double>(correct) / static_cast<double>(logits.size(0));
}

}  // namespace lethe
