// Running a model over stored records without gradients, in chunks: what evaluation of a base
// and of the S3T ensemble share.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "src/data/records.h"
#include "src/models/model.h"

namespace lethe {

struct Predictions {
  at::Tensor logits;  // [rows, labels]; undefined when there are no rows
  at::Tensor labels;  // int64 [rows]
};

// The logits of `rows` of `batch` (with `lora`, if given), `chunk` records at a time.
Predictions predict_rows(const ModelSpec& spec, const Weights& weights, const LoraSet* lora,
                         const RecordBatch& batch, const std::vector<uint32_t>& rows,
                         int64_t chunk);

// The perplexity of a llama model's next-token predictions over `rows` (exp of the mean
// negative log-likelihood per predicted token); 0 when no row has two tokens.
double lm_perplexity(const ModelSpec& spec, const Weights& weights, const LoraSet* lora,
                     const RecordBatch& batch, const std::vector<uint32_t>& rows, int64_t chunk);

// The share of rows whose highest logit is their label; 0 for no rows.
double accuracy_of(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace lethe
