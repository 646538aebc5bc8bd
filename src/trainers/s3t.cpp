#include "src/trainers/s3t.h"

#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "checkpoints/node_checkpoint.h"
#include "peft/adapter_io.h"
#include "shards/lineage_index.h"
#include "shards/prefix_tree.h"
#include "src/common/crash_point.h"
#include "src/common/error.h"
#include "src/common/hash.h"
#include "src/models/inputs.h"
#include "src/trainers/epoch_order.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

constexpr const char* kHeadKey = "base_model.model.score.weight";

// One shard's train slices: rows, files and the live records of each.
struct ShardData {
  std::vector<SliceRow> slices;          // by slice index
  std::vector<RecordBatch> batches;      // the verified files, by slice index
  std::vector<std::vector<uint32_t>> live;  // live rows, by slice index
};

ShardData load_shard(Workspace& ws, int shard, int slices) {
  ShardData d;
  d.slices.resize(static_cast<size_t>(slices));
  std::vector<bool> found(static_cast<size_t>(slices), false);
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == "train" && s.shard == shard) {
      d.slices[static_cast<size_t>(s.slice)] = s;
      found[static_cast<size_t>(s.slice)] = true;
    }
  }
  for (int l = 0; l < slices; ++l) {
    if (!found[static_cast<size_t>(l)]) {
      fail(ErrorKind::kIntegrity, "shard {} has no slice {} in the index", shard, l);
    }
    d.batches.push_back(read_verified_slice(ws, d.slices[static_cast<size_t>(l)]));
    d.live.push_back(live_rows(ws.db, d.slices[static_cast<size_t>(l)].slice_id));
  }
  return d;
}

std::vector<Sequence> select_sequences(const TrainConfig& t, int slices) {
  if (t.selection == "bms") {
    std::vector<double> p = t.deletion_probabilities;
    if (p.empty()) p.assign(static_cast<size_t>(slices), 0.0);
    if (static_cast<int>(p.size()) != slices) {
      fail(ErrorKind::kUsage, "train.deletion_probabilities has {} values, but shards have {} slices",
           p.size(), slices);
    }
    return bms_sequences(p, static_cast<int>(t.sequences), t.expected_deletions);
  }
  return cyclic_sequences(slices, static_cast<int>(t.sequences));
}

std::string config_hash(const Config& c, const BaseModel& base) {
  const nlohmann::json j = {
      {"base", base.hash},
      {"lora", {{"r", c.lora.r}, {"lora_alpha", c.lora.lora_alpha}, {"lora_dropout", c.lora.lora_dropout},
                {"use_rslora", c.lora.use_rslora}, {"target_modules", c.lora.target_modules}}},
      {"train", {{"epochs_per_stage", c.train.epochs_per_stage}, {"batch_size", c.train.batch_size},
                 {"lr", c.train.lr}, {"weight_decay", c.train.weight_decay}, {"seed", c.train.seed}}}};
  return blake2b_hex(j.dump());
}

// A live node checkpoint of the index, by (shard, prefix).
std::map<std::pair<int, std::string>, ComponentRow> live_nodes(Workspace& ws) {
  std::map<std::pair<int, std::string>, ComponentRow> out;
  for (ComponentRow& c : live_components(ws.db, "node")) out[{c.shard, c.prefix}] = std::move(c);
  return out;
}

// What a node would be trained on: its slices and their current hashes, in order.
std::vector<SeenSlice> inputs_of(const Sequence& prefix, const ShardData& d) {
  std::vector<SeenSlice> seen;
  for (int l : prefix) seen.push_back({l, d.slices[static_cast<size_t>(l)].hash});
  return seen;
}

// A stage's adapters and head: the ancestors' groups (frozen) and head, this stage's group
// freshly initialised from the node's seed, deeper groups off.
struct StageModel {
  LoraSet lora;
  at::Tensor head;
};

StageModel stage_model(Workspace& ws, const BaseModel& base, const std::vector<LinearInfo>& linears,
                       const LoraConfig& lora_config, int slices, int depth,
                       const std::vector<ComponentRow>& ancestors, uint64_t seed) {
  StageModel m;
  m.lora = make_lora_set(linears, lora_config, static_cast<int>(base.spec.num_layers), slices, seed);
  m.head = base.weights.at("score.weight").clone();
  for (size_t i = 0; i < ancestors.size(); ++i) {  // parent (group depth - 1) first
    const int group = depth - 1 - static_cast<int>(i);
    const NodeCheckpoint anc = read_node(ws.root / ancestors[i].file, ancestors[i].hash);
    load_node_group(m.lora, group, anc);
    if (i == 0) m.head = node_head(anc).clone();  // trained further in place: a copy
  }
  for (int g = 0; g < slices; ++g) m.lora.enabled[static_cast<size_t>(g)] = g <= depth;
  return m;
}

// The stage's data: the live records of the prefix's slices, as one batch.
RecordBatch stage_data(const Sequence& prefix, const ShardData& data) {
  RecordBatch batch = RecordBatch::like(data.batches[static_cast<size_t>(prefix.front())]);
  for (int l : prefix) {
    const RecordBatch& b = data.batches[static_cast<size_t>(l)];
    for (uint32_t row : data.live[static_cast<size_t>(l)]) batch.append_from(b, row);
  }
  return batch;
}

struct StageResult {
  double final_loss = 0;  // mean over the last epoch's steps
  int64_t samples = 0;    // records processed, all epochs
};

// Trains the stage's group (the deepest enabled one) and the head with AdamW; batch order and
// dropout come from the node's seed alone.
StageResult fit_stage(const BaseModel& base, StageModel& m, const RecordBatch& batch,
                      const TrainConfig& tc, uint64_t seed, const std::string& label,
                      const ProgressOptions& progress) {
  int depth = 0;
  for (size_t g = 0; g < m.lora.enabled.size(); ++g) {
    if (m.lora.enabled[g]) depth = static_cast<int>(g);
  }
  std::vector<at::Tensor> params = set_trainable_groups(m.lora, {depth});
  m.head.set_requires_grad(true);
  params.push_back(m.head);
  Weights weights = base.weights;  // shares the frozen tensors; only the head differs
  weights["score.weight"] = m.head;
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(tc.lr).weight_decay(tc.weight_decay));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0xa5a5a5a5ULL);
  ForwardOptions fo;
  fo.lora = &m.lora;
  fo.training = true;
  fo.generator = gen;
  const int64_t n = static_cast<int64_t>(batch.size()), bs = tc.batch_size, steps = (n + bs - 1) / bs;
  Progress bar(label, static_cast<uint64_t>(steps * tc.epochs_per_stage), progress);
  StageResult result;
  for (int64_t epoch = 0; epoch < tc.epochs_per_stage; ++epoch) {
    const EpochOrder order = epoch_order(n, bs, gen);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps; ++s) {
      const LabeledInput li = make_input(base.spec, batch, order.rows(s));
      const at::Tensor loss = torch::cross_entropy_loss(forward(base.spec, weights, li.input, fo).logits, li.labels);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      bar.advance(1);
    }
    result.final_loss = loss_sum / static_cast<double>(steps);
    result.samples += n;
  }
  bar.finish();
  m.head = m.head.detach();
  return result;
}

}  // namespace

void load_node_group(LoraSet& set, int group, const NodeCheckpoint& node) {
  for (auto& [module, adapter] : set.adapters) {
    if (adapter.group != group) continue;
    adapter.A = node.tensors.at(peft_key(module, "lora_A"));
    adapter.B = node.tensors.at(peft_key(module, "lora_B"));
  }
}

const at::Tensor& node_head(const NodeCheckpoint& node) { return node.tensors.at(kHeadKey); }

std::map<int, std::vector<Sequence>> recorded_sequences(Workspace& ws) {
  const auto text = get_meta(ws.db, "s3t.sequences");
  if (!text) fail(ErrorKind::kNotFound, "no S3T model has been trained in '{}': run 'lethe train'", ws.root.string());
  std::map<int, std::vector<Sequence>> out;
  const nlohmann::json j = nlohmann::json::parse(*text);  // outlives the loop's proxy
  for (const auto& [shard, seqs] : j.items()) out[std::stoi(shard)] = seqs.get<std::vector<Sequence>>();
  return out;
}

S3tReport train_s3t(Workspace& ws, const Config& config, const std::vector<int>& only,
                    const ProgressOptions& progress, spdlog::logger& log) {
  const auto t0 = std::chrono::steady_clock::now();
  const BaseModel base = load_base(ws);
  const int shards = std::stoi(get_meta(ws.db, "plan.shards").value_or("0"));
  const int slices = std::stoi(get_meta(ws.db, "plan.slices").value_or("0"));
  if (shards == 0) fail(ErrorKind::kUsage, "workspace '{}' holds no data: run 'lethe ingest'", ws.root.string());
  const std::vector<LinearInfo> linears = linear_layers(base.spec);
  group_of_layer(0, static_cast<int>(base.spec.num_layers), slices);  // validates the partition
  const std::string cfg_hash = config_hash(config, base);
  const TrainConfig& tc = config.train;

  S3tReport report;
  nlohmann::json recorded = nlohmann::json::object();
  if (auto old = get_meta(ws.db, "s3t.sequences")) recorded = nlohmann::json::parse(*old);
  for (int shard = 0; shard < shards; ++shard) {
    if (!only.empty() && std::find(only.begin(), only.end(), shard) == only.end()) continue;
    ++report.shards;
    const ShardData data = load_shard(ws, shard, slices);
    const std::vector<Sequence> seqs = select_sequences(tc, slices);
    report.sequences[shard] = seqs;
    recorded[std::to_string(shard)] = seqs;
    const PrefixTree tree = build_prefix_tree(seqs);
    report.stages_without_sharing += tree.stages_without_sharing;

    // Live nodes as the shard starts; each (shard, prefix) is visited once, so this run's own
    // commits never change the entry a later node looks up.
    const auto existing = live_nodes(ws);
    std::vector<std::string> node_hash(tree.nodes.size());
    std::vector<std::string> node_file(tree.nodes.size());
    for (size_t k = 0; k < tree.nodes.size(); ++k) {
      const PrefixNode& node = tree.nodes[k];
      const std::string name = prefix_name(node.prefix);
      const std::vector<SeenSlice> seen = inputs_of(node.prefix, data);
      const std::string parent_hash = node.parent >= 0 ? node_hash[static_cast<size_t>(node.parent)] : "";

      // Resume: a live node with the same inputs, parent and configuration is kept.
      if (auto it = existing.find({shard, name}); it != existing.end()) {
        const NodeCheckpoint old = read_node(ws.root / it->second.file, it->second.hash);
        if (old.meta.slices == seen && old.meta.parent_hash == parent_hash &&
            old.meta.base_hash == base.hash && old.meta.config_hash == cfg_hash) {
          node_hash[k] = it->second.hash;
          node_file[k] = it->second.file;
          ++report.nodes_reused;
          continue;
        }
      }

      const int depth = static_cast<int>(node.prefix.size()) - 1;  // this node's group
      std::vector<std::string> slice_hashes;
      for (const SeenSlice& s : seen) slice_hashes.push_back(s.hash);
      const uint64_t seed = node_seed(static_cast<uint64_t>(tc.seed), shard, node.prefix, slice_hashes);
      std::vector<ComponentRow> ancestors;  // parent first
      for (int a = node.parent; a >= 0; a = tree.nodes[static_cast<size_t>(a)].parent) {
        ComponentRow c;
        c.file = node_file[static_cast<size_t>(a)];
        c.hash = node_hash[static_cast<size_t>(a)];
        ancestors.push_back(c);
      }
      StageModel model = stage_model(ws, base, linears, config.lora, slices, depth, ancestors, seed);
      const RecordBatch batch = stage_data(node.prefix, data);
      if (batch.size() == 0) fail(ErrorKind::kInput, "shard {} prefix {} has no live records to train on", shard, name);
      const StageResult fit = fit_stage(base, model, batch, tc, seed,
                                        fmt::format("shard {} stage {} [{}]", shard, depth + 1, name),
                                        progress);
      report.samples += fit.samples;

      NodeCheckpoint ckpt;
      ckpt.meta.shard = shard;
      ckpt.meta.prefix = name;
      ckpt.meta.slices = seen;
      ckpt.meta.base_hash = base.hash;
      ckpt.meta.parent_hash = parent_hash;
      ckpt.meta.config_hash = cfg_hash;
      ckpt.meta.seed = seed;
      ckpt.meta.metrics = {{"final_loss", fit.final_loss}, {"records", batch.size()}};
      for (const auto& [module, adapter] : model.lora.adapters) {
        if (adapter.group != depth) continue;
        ckpt.tensors[peft_key(module, "lora_A")] = adapter.A.detach();
        ckpt.tensors[peft_key(module, "lora_B")] = adapter.B.detach();
      }
      ckpt.tensors[kHeadKey] = model.head.detach();
      const WrittenNode written = write_node(ws.root, ckpt);
      // Crash points name the node, so that a test can stop the run at any node.
      crash_point(fmt::format("train.before_commit.s{}.p{}", shard, name).c_str());

      // One transaction: the node, its lineage edges (every slice it has seen), and the
      // retirement of a stale node of the same name.
      Transaction txn(ws.db);
      if (auto it = existing.find({shard, name}); it != existing.end()) {
        set_component_status(ws.db, it->second.component_id, "deactivated");
      }
      ComponentRow row;
      row.kind = "node";
      row.shard = shard;
      row.prefix = name;
      row.file = written.file;
      row.hash = written.hash;
      const int64_t id = insert_component(ws.db, row);
      for (const SeenSlice& s : seen) {
        add_lineage_edge(ws.db, id, data.slices[static_cast<size_t>(s.slice)].slice_id, s.hash);
      }
      set_meta(ws.db, "s3t.sequences", recorded.dump());
      txn.commit();
      crash_point(fmt::format("train.after_commit.s{}.p{}", shard, name).c_str());
      if (auto it = existing.find({shard, name}); it != existing.end() && it->second.file != written.file) {
        std::error_code ec;
        fs::remove(ws.root / it->second.file, ec);  // retired; recovery removes it otherwise
      }
      node_hash[k] = written.hash;
      node_file[k] = written.file;
      ++report.nodes_trained;
      log.info("shard {} node {}: {} records, final loss {:.4f}", shard, name, batch.size(),
               fit.final_loss);
    }
  }
  {
    Transaction txn(ws.db);
    set_meta(ws.db, "s3t.sequences", recorded.dump());
    txn.commit();
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace lethe
