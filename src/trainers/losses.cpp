#include "src/trainers/losses.h"

#include <torch/torch.h>

namespace lethe {

namespace {

// [B, T-1]: true where position t predicts a real token.
at::Tensor next_token_mask(const ModelInput& in) {
  const int64_t t = in.tokens.size(1);
  const at::Tensor positions = torch::arange(t - 1, in.tokens.options()).unsqueeze(0);
  return positions < (in.lengths - 1).unsqueeze(1);
}

}  // namespace

at::Tensor lm_loss(const at::Tensor& lm_logits, const ModelInput& in) {
  const int64_t t = in.tokens.size(1);
  const at::Tensor logits = lm_logits.slice(1, 0, t - 1).reshape({-1, lm_logits.size(2)});
  const at::Tensor targets = in.tokens.slice(1, 1, t).reshape({-1});
  const at::Tensor mask = next_token_mask(in).reshape({-1});
  if (mask.sum().item<int64_t>() == 0) return torch::zeros({}, lm_logits.options().dtype(torch::kFloat32));
  return torch::nll_loss(torch::log_softmax(logits.index({mask}), -1), targets.index({mask}));
}

at::Tensor lm_loss_sum(const at::Tensor& lm_logits, const ModelInput& in) {
  const int64_t t = in.tokens.size(1);
  const at::Tensor logits = lm_logits.slice(1, 0, t - 1).reshape({-1, lm_logits.size(2)});
  const at::Tensor targets = in.tokens.slice(1, 1, t).reshape({-1});
  const at::Tensor mask = next_token_mask(in).reshape({-1});
  return torch::nll_loss(torch::log_softmax(logits.index({mask}), -1), targets.index({mask}), {}, at::Reduction::Sum);
}

int64_t lm_targets(const ModelInput& in) { return next_token_mask(in).sum().item<int64_t>(); }

at::Tensor lm_loss_per_row(const at::Tensor& lm_logits, const ModelInput& in) {
  const TokenNll t = token_nll(torch::log_softmax(lm_logits, -1), in);
  return (t.nll / t.tokens.clamp_min(1).to(torch::kFloat64)).to(lm_logits.scalar_type());
}

TokenNll token_nll(const at::Tensor& log_probs, const ModelInput& in) {
  const int64_t t = in.tokens.size(1);
  const at::Tensor targets = in.tokens.slice(1, 1, t).unsqueeze(2);
  const at::Tensor picked = log_probs.slice(1, 0, t - 1).gather(2, targets).squeeze(2);  // [B, T-1]
  const at::Tensor mask = next_token_mask(in);
  TokenNll out;
  out.nll = -(picked.to(torch::kFloat64) * mask.to(torch::kFloat64)).sum(1);
  out.tokens = mask.sum(1).to(torch::kInt64);
  return out;
}

}  // namespace lethe
