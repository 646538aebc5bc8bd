// The training losses shared by the trainers, and the next-token log-likelihood that
// perplexity is computed from.
#pragma once

#include <ATen/core/Tensor.h>

#include "src/models/model.h"

namespace lethe {

// Next-token loss over the real tokens of each row (positions 0..length-2 predict
// 1..length-1), averaged over those tokens; 0 when no row has two tokens.
at::Tensor lm_loss(const at::Tensor& lm_logits, const ModelInput& in);

// lm_loss's parts for a step cut into micro-batches: the summed next-token loss of a
// micro-batch, and how many next tokens a batch has (the step's divisor).
at::Tensor lm_loss_sum(const at::Tensor& lm_logits, const ModelInput& in);
int64_t lm_targets(const ModelInput& in);

// Per row: the mean next-token loss over its real tokens ([B], 0 for a row without two
// tokens), for DP-SGD, whose clipping needs each example's loss apart.
at::Tensor lm_loss_per_row(const at::Tensor& lm_logits, const ModelInput& in);

// Per row: the summed negative log-likelihood of its next tokens (float64 [B]) and how many
// tokens that is (int64 [B]), from `log_probs` = log_softmax(lm_logits) [B, T, vocab].
struct TokenNll {
  at::Tensor nll;
  at::Tensor tokens;
};
TokenNll token_nll(const at::Tensor& log_probs, const ModelInput& in);

}  // namespace lethe
