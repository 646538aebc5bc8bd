// The serving ensemble: the live shards' models (the frozen base, each shard's chain of
// adapters and its head) and their combined output on a batch of records. The records are
// cut into fixed chunks and the chunks spread over the ranks; each chunk's outputs are
// computed the same way on whichever rank runs it, and the shards are combined in shard
// order, so results do not depend on the number of ranks.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "src/common/device.h"
#include "src/distributed/comm.h"
#include "src/serving/serving_view.h"
#include "src/trainers/base_model.h"

namespace lethe {

struct MemberModel {
  int shard = 0;
  LoraSet lora;
  at::Tensor head;
};

struct Ensemble {
  ComputeDevice device;  // runtime.device: where the base and members are and the chunks run
  BaseModel base;
  View view;
  std::vector<MemberModel> members;  // in view order
};

// The current view of `mode` (serving_view.h's current_view, with config's dp2 setting).
// ErrorKind::kNotFound when no shard can serve.
View servable_view(Workspace& ws, const Config& config, const std::string& mode);

// Loads the current view of `mode`, verifying every checkpoint's hash and that it was trained
// on this base. ErrorKind::kNotFound when no shard can serve.
Ensemble load_ensemble(Workspace& ws, const Config& config, const std::string& mode);

// True when both views serve the same components (by ID and hash) in the same chains: an
// ensemble loaded for one serves the other.
bool same_components(const View& a, const View& b);

// The members of any view of live components (e.g. one member per node, for replaying
// deletions), verified the same way. Both place them on config.runtime.device.
Ensemble load_view(Workspace& ws, const Config& config, View view);

// How members' outputs combine: mean of logits (default) or majority vote of their
// predictions (ties to the label with the larger mean logit).
enum class Combine { kMean, kVote };

struct EnsembleOutputs {
  at::Tensor member_logits;  // float [members, N, labels]
  at::Tensor logits;         // float [N, labels]: the mean over members
  at::Tensor predicted;      // int64 [N]: the ensemble's label
  at::Tensor labels;         // int64 [N]: the records' stored labels
  // llama only (with want_lm): next-token negative log-likelihood per record under the mean
  // of the members' LM logits, per member, and the number of predicted tokens.
  at::Tensor nll;            // float64 [N]
  at::Tensor member_nll;     // float64 [members, N]
  at::Tensor tokens;         // int64 [N]
};

// Runs on every rank; the outputs are complete on rank 0 (undefined elsewhere).
EnsembleOutputs run_ensemble(const Comm& comm, const Ensemble& ensemble, const RecordBatch& batch,
                             const std::vector<uint32_t>& rows, Combine combine, bool want_lm);

double perplexity(const at::Tensor& nll, const at::Tensor& tokens);

}  // namespace lethe
