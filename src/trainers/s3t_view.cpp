#include "src/trainers/s3t_view.h"

#include <torch/torch.h>

#include <map>

#include "checkpoints/node_checkpoint.h"
#include "shards/prefix_tree.h"
#include "src/common/error.h"
#include "src/trainers/predict.h"
#include "src/trainers/s3t.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

// A shard's serving model: the frozen base plus its chain's groups and last head.
struct ShardModel {
  LoraSet lora;
  at::Tensor head;
};

ShardModel load_chain(Workspace& ws, const BaseModel& base, const Config& config, int slices,
                      const std::vector<ComponentRow>& chain) {
  ShardModel m;
  m.lora = make_lora_set(linear_layers(base.spec), config.lora, static_cast<int>(base.spec.num_layers), slices, 0);
  for (size_t g = 0; g < chain.size(); ++g) {
    const NodeCheckpoint node = read_node(ws.root / chain[g].file, chain[g].hash);
    if (node.meta.base_hash != base.hash) {
      fail(ErrorKind::kIntegrity, "node {} of shard {} was trained on another base model", chain[g].prefix, chain[g].shard);
    }
    load_node_group(m.lora, static_cast<int>(g), node);
    if (g + 1 == chain.size()) m.head = node_head(node);
  }
  for (int g = 0; g < slices; ++g) m.lora.enabled[static_cast<size_t>(g)] = g < static_cast<int>(chain.size());
  return m;
}

}  // namespace

View current_view(Workspace& ws) {
  const auto sequences = recorded_sequences(ws);
  std::map<std::pair<int, std::string>, ComponentRow> live;
  for (ComponentRow& c : live_components(ws.db, "node")) live[{c.shard, c.prefix}] = std::move(c);
  View view;
  view.total_shards = std::stoi(get_meta(ws.db, "plan.shards").value_or("0"));
  for (const auto& [shard, seqs] : sequences) {
    ShardView best;
    best.shard = shard;
    for (size_t b = 0; b < seqs.size(); ++b) {
      std::vector<ComponentRow> chain;
      for (size_t n = 1; n <= seqs[b].size(); ++n) {
        const auto it = live.find({shard, prefix_name(Sequence(seqs[b].begin(), seqs[b].begin() + static_cast<long>(n)))});
        if (it == live.end()) break;
        chain.push_back(it->second);
      }
      if (chain.size() > best.chain.size()) {
        best.sequence = static_cast<int>(b);
        best.chain = std::move(chain);
      }
    }
    if (!best.chain.empty()) view.live.push_back(std::move(best));
  }
  return view;
}

EvalReport evaluate_s3t(Workspace& ws, const Config& config, spdlog::logger& log) {
  EvalReport report;
  report.view = current_view(ws);
  if (report.view.live.empty()) {
    fail(ErrorKind::kNotFound, "no shard of '{}' has a live first stage to serve", ws.root.string());
  }
  const BaseModel base = load_base(ws);
  const int slices = std::stoi(get_meta(ws.db, "plan.slices").value_or("0"));
  const SliceRow test_slice = split_slice(ws, "test");
  const RecordBatch test = read_verified_slice(ws, test_slice);
  const std::vector<uint32_t> rows = live_rows(ws.db, test_slice.slice_id);
  report.records = static_cast<int64_t>(rows.size());
  at::Tensor sum;
  at::Tensor labels;
  for (const ShardView& sv : report.view.live) {
    const ShardModel m = load_chain(ws, base, config, slices, sv.chain);
    Weights weights = base.weights;
    weights["score.weight"] = m.head;
    const Predictions p = predict_rows(base.spec, weights, &m.lora, test, rows, 256);
    labels = p.labels;
    report.shard_accuracy.push_back(accuracy_of(p.logits, p.labels));
    sum = sum.defined() ? sum + p.logits : p.logits;
    log.info("shard {}: sequence {}, {} live stages, accuracy {:.4f}", sv.shard, sv.sequence,
             sv.chain.size(), report.shard_accuracy.back());
  }
  const at::Tensor mean = sum / static_cast<double>(report.view.live.size());
  report.accuracy = accuracy_of(mean, labels);
  return report;
}

}  // namespace lethe
