#include "src/serving/predict_answers.h"

#include <torch/torch.h>

namespace lethe {

nlohmann::json prediction_answer(const nlohmann::json& id, const EnsembleOutputs& o, const Ensemble& e,
                                 const std::vector<std::string>& labels, int64_t i, bool per_shard) {
  const at::Tensor probs = torch::softmax(o.logits[i], -1);
  const int64_t label = o.predicted[i].item<int64_t>();
  nlohmann::json a = {{"id", id},
                      {"label", labels[static_cast<size_t>(label)]},
                      {"label_index", label},
                      {"probability", probs[label].item<double>()}};
  if (per_shard) {
    nlohmann::json shards = nlohmann::json::array();
    for (size_t m = 0; m < e.members.size(); ++m) {
      const at::Tensor logits = o.member_logits[static_cast<int64_t>(m)][i].contiguous();
      const int64_t l = logits.argmax().item<int64_t>();
      shards.push_back({{"shard", e.members[m].shard},
                        {"stages", e.view.live[m].chain.size()},
                        {"node", e.view.live[m].chain.back().prefix},
                        {"label", labels[static_cast<size_t>(l)]},
                        {"probability", torch::softmax(logits, -1)[l].item<double>()},
                        {"logits", std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel())}});
    }
    a["shards"] = shards;
  }
  return a;
}

}  // namespace lethe
