#include "src/trainers/node_training.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "peft/adapter_io.h"
#include "src/index/ledger.h"
#include "shards/prefix_tree.h"
#include "src/common/error.h"
#include "src/config/modes.h"
#include "src/common/hash.h"
#include "src/common/platform.h"
#include "src/models/inputs.h"
#include "src/privacy/dp_sgd.h"
#include "src/privacy/dp_schedule.h"
#include "src/trainers/data_parallel.h"
#include "src/trainers/epoch_order.h"
#include "src/trainers/losses.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

constexpr const char* kHeadKey = "base_model.model.score.weight";

// A stage's adapters and head: the ancestors' groups and the parent's head, this node's
// group freshly initialised from its seed (or, when an ancestor holds the same group, as
// SISA's, continued from it), deeper groups off.
struct StageModel {
  LoraSet lora;
  at::Tensor head;
};

StageModel stage_model(const NodeTrainingContext& ctx, const NodeSpec& node,
                       const std::vector<AncestorRef>& ancestors, uint64_t seed) {
  const BaseModel& base = *ctx.base;
  StageModel m;
  m.lora = make_lora_set(linear_layers(base.spec), ctx.config->lora, static_cast<int>(base.spec.num_layers),
                         ctx.groups, seed);
  m.head = base.weights.at("score.weight").clone();
  std::vector<bool> loaded(static_cast<size_t>(ctx.groups), false);
  for (size_t i = 0; i < ancestors.size(); ++i) {  // parent first: the nearest holder of a group wins
    const AncestorRef& a = ancestors[i];
    if (loaded[static_cast<size_t>(a.group)] && i > 0) continue;
    const NodeCheckpoint anc = read_node(ctx.ws->root / a.file, a.hash);
    load_node_group(m.lora, a.group, anc);
    loaded[static_cast<size_t>(a.group)] = true;
    if (i == 0) m.head = node_head(anc).clone();  // trained further in place: a copy
  }
  for (int g = 0; g < ctx.groups; ++g) m.lora.enabled[static_cast<size_t>(g)] = g <= node.group;
  if (loaded[static_cast<size_t>(node.group)]) {  // continued: the parent's tensors are shared, copy them
    for (auto& [name, adapter] : m.lora.adapters) {
      if (adapter.group != node.group) continue;
      adapter.A = adapter.A.clone();
      adapter.B = adapter.B.clone();
    }
  }
  // Made and loaded on the CPU (the same initial bits on every device), trained on ctx.device.
  move_lora(m.lora, ctx.device.device);
  m.head = m.head.to(ctx.device.device);
  return m;
}

// The stage's data: the live records of the node's slices, as one batch.
RecordBatch stage_data(const NodeSpec& node, const SliceData& data) {
  RecordBatch batch = RecordBatch::like(data.batches[static_cast<size_t>(node.prefix.front())]);
  for (int l : node.prefix) {
    const RecordBatch& b = data.batches[static_cast<size_t>(l)];
    for (uint32_t row : data.live[static_cast<size_t>(l)]) batch.append_from(b, row);
  }
  return batch;
}

// The mean training loss over the first and over the last quarter of a stage's optimiser
// steps (at least one step each), weighted by the rows of each step: whether the stage learned
// shows in the one falling below the other.
class LossCurve {
 public:
  void add(double loss_sum, int64_t rows) { steps_.push_back({loss_sum, rows}); }
  double start() const { return mean(0, window()); }
  double end() const { return mean(steps_.size() - window(), steps_.size()); }

 private:
  size_t window() const { return std::min(steps_.size(), std::max<size_t>(1, steps_.size() / 4)); }
  double mean(size_t from, size_t to) const {
    double sum = 0;
    int64_t rows = 0;
    for (size_t i = from; i < to; ++i) sum += steps_[i].first, rows += steps_[i].second;
    return rows ? sum / static_cast<double>(rows) : 0.0;
  }
  std::vector<std::pair<double, int64_t>> steps_;
};

struct StageResult {
  double final_loss = 0;  // mean over the last epoch's steps (DP: over its rows)
  LossCurve curve;
  int64_t samples = 0;
};

// What both stage loops share: the node's group and the head trained with AdamW, the weights
// with that head, and the forward options. The node's generator orders epochs and, for DP,
// draws batches and noise (on the CPU); LoRA dropout draws from it too on the CPU, and from a
// generator of the GPU's own, seeded from the node's seed, on a GPU.
struct StageSetup {
  std::vector<at::Tensor> params;
  Weights weights;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  at::Generator gen;
  ForwardOptions fo;
};

StageSetup setup_stage(const NodeTrainingContext& ctx, StageModel& m, int group, uint64_t seed) {
  const BaseModel& base = *ctx.base;
  const TrainConfig& tc = ctx.config->train;
  StageSetup st;
  st.params = set_trainable_groups(m.lora, {group});
  m.head.set_requires_grad(true);
  st.params.push_back(m.head);
  st.weights = base.weights;  // shares the frozen tensors; only the head differs
  st.weights["score.weight"] = m.head;
  st.optimizer = std::make_unique<torch::optim::AdamW>(
      st.params, torch::optim::AdamWOptions(tc.lr).weight_decay(tc.weight_decay));
  st.gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0xa5a5a5a5ULL);
  st.fo.lora = &m.lora;
  st.fo.training = true;
  st.fo.generator = ctx.device.is_cuda() ? device_generator(ctx.device, seed ^ 0x5a5a5a5aULL) : st.gen;
  st.fo.want_lm = base.spec.arch == "llama" && tc.lm_loss_weight > 0;
  return st;
}

void set_lr(torch::optim::AdamW& optimizer, double lr) {
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options()).lr(lr);
}

// A node as an error message names it.
std::string node_id(const NodeSpec& node) {
  return node.shard >= 0 ? fmt::format("{} node {} of shard {}", node.kind, node.name, node.shard)
                         : fmt::format("{} node {}", node.kind, node.name);
}

// A step cut into micro-batches (train.micro_batch): this rank's share of them, one backward
// pass each, then the group's sum of every micro-batch's gradients in micro-batch order
// (data_parallel.h) in .grad. The loss of micro-batch m is its summed loss over the step's
// divisors (its rows; for llama also its next tokens), so the micro-batches add up to the
// whole step's mean loss. Dropout draws from a generator of the micro-batch's own. Returns
// the step's loss.
double micro_batch_step(const NodeTrainingContext& ctx, StageSetup& st, RankGroup& group, StepReduction& reduction,
                        const RecordBatch& batch, const std::vector<uint32_t>& rows, uint64_t seed, int64_t step,
                        const std::string& exchange) {
  const BaseModel& base = *ctx.base;
  const TrainConfig& tc = ctx.config->train;
  const double divisor = static_cast<double>(rows.size());
  const double tokens = st.fo.want_lm ? static_cast<double>(lm_targets(make_input(base.spec, batch, rows).input)) : 0;
  const auto loss_of = [&](const std::vector<uint32_t>& part, int64_t m) {
    const LabeledInput li = on_device(make_input(base.spec, batch, part), ctx.device.device);
    ForwardOptions fo = st.fo;
    fo.generator = micro_batch_generator(ctx.device, seed, step, m);
    const PrecisionGuard precision(ctx.device);
    const ModelOutput out = forward(base.spec, st.weights, li.input, fo);
    at::Tensor loss = torch::cross_entropy_loss(out.logits, li.labels, {}, at::Reduction::Sum) / divisor;
    if (fo.want_lm && tokens > 0) loss = loss + tc.lm_loss_weight * lm_loss_sum(out.lm_logits, li.input) / tokens;
    return loss;
  };
  return shared_step(group, reduction, rows, tc.micro_batch, [&] { st.optimizer->zero_grad(); }, loss_of,
                     fmt::format("gradient exchange of step {} of {}", step + 1, exchange));
}

// Trains the node's group and the head with AdamW; for llama the next-token loss is added
// to the classification loss.
StageResult fit_stage(const NodeTrainingContext& ctx, StageModel& m, const NodeSpec& node, const RecordBatch& batch,
                      int64_t epochs, uint64_t seed, const std::string& label) {
  const BaseModel& base = *ctx.base;
  const TrainConfig& tc = ctx.config->train;
  StageSetup st = setup_stage(ctx, m, node.group, seed);
  const int64_t n = static_cast<int64_t>(batch.size()), bs = tc.batch_size, steps = (n + bs - 1) / bs;
  const bool micro = uses_micro_batches(tc);
  RankGroup alone;
  RankGroup& group = ctx.group ? *ctx.group : alone;
  StepReduction reduction(group, st.params, 1);
  Progress bar(label, static_cast<uint64_t>(n * epochs), ctx.progress);
  StageResult result;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const EpochOrder order = epoch_order(n, bs, st.gen);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps; ++s) {
      const std::vector<uint32_t> rows = order.rows(s);
      double step_loss = 0;
      if (micro) {
        step_loss = micro_batch_step(ctx, st, group, reduction, batch, rows, seed, epoch * steps + s, node_id(node));
      } else {
        const LabeledInput li = on_device(make_input(base.spec, batch, rows), ctx.device.device);
        at::Tensor loss;
        {
          const PrecisionGuard precision(ctx.device);  // bf16 products in the forward pass only
          const ModelOutput out = forward(base.spec, st.weights, li.input, st.fo);
          loss = torch::cross_entropy_loss(out.logits, li.labels);
          if (st.fo.want_lm) loss = loss + tc.lm_loss_weight * lm_loss(out.lm_logits, li.input);
        }
        st.optimizer->zero_grad();
        loss.backward();
        step_loss = loss.item<double>();
      }
      set_lr(*st.optimizer, scheduled_lr(tc, epoch * steps + s, epochs * steps));
      st.optimizer->step();
      loss_sum += step_loss;
      result.curve.add(step_loss * static_cast<double>(rows.size()), static_cast<int64_t>(rows.size()));
      bar.set_note(fmt::format("epoch {}/{} loss {:.4f}", epoch + 1, epochs, loss_sum / static_cast<double>(s + 1)));
      bar.advance(rows.size());
      if (ctx.between_steps) ctx.between_steps();
    }
    result.final_loss = loss_sum / static_cast<double>(steps);
    result.samples += n;
  }
  bar.finish();
  m.head = m.head.detach();
  return result;
}

// The seed of everything a DP node draws (Poisson batches, dropout, noise), keyed with the
// workspace's secret: differential privacy holds only against someone who cannot predict the
// noise, and the node seed follows from the config's seed and the data's hashes, which may be
// known. The key holder can still replay the node bit for bit.
uint64_t secret_dp_seed(const Workspace& ws, uint64_t node_seed) {
  if (ws.audit.id_secret.empty()) {
    fail(ErrorKind::kUsage, "DP training needs the workspace's secret key (audit.key in '{}') to draw noise no one "
         "else can predict; run it as the workspace's owner", ws.root.string());
  }
  const std::string h = keyed_id(ws.audit, fmt::format("dp-noise:{}", node_seed));
  return std::stoull(h.substr(0, 16), nullptr, 16);
}

// The privacy units of a stage's records: each record its own, or one per owner (in order of
// first appearance, so the numbering depends only on the data).
struct PrivacyUnits {
  std::vector<std::vector<uint32_t>> rows;  // per unit
};

PrivacyUnits privacy_units(const RecordBatch& batch, const std::string& unit) {
  PrivacyUnits u;
  if (unit == "record") {
    for (uint32_t i = 0; i < batch.size(); ++i) u.rows.push_back({i});
    return u;
  }
  std::map<std::string_view, size_t> index;
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const auto [it, added] = index.emplace(batch.owners.at(i), u.rows.size());
    if (added) u.rows.emplace_back();
    u.rows[it->second].push_back(i);
  }
  return u;
}

// DP-SGD (src/privacy/dp_sgd.h) over the schedule's steps: each step samples every privacy
// unit independently with probability q (true Poisson sampling: the batch size varies and may
// be 0), clips each sampled unit's gradient, adds the noise and divides by the expected batch.
// Batches, dropout and noise all come from the node's generator.
StageResult fit_stage_private(const NodeTrainingContext& ctx, StageModel& m, const NodeSpec& node, const RecordBatch& batch,
                              const PrivacyUnits& units, const DpSchedule& schedule, uint64_t seed,
                              const std::string& label) {
  const BaseModel& base = *ctx.base;
  const TrainConfig& tc = ctx.config->train;
  StageSetup st = setup_stage(ctx, m, node.group, seed);
  const bool micro = uses_micro_batches(tc);
  RankGroup alone;
  RankGroup& group = ctx.group ? *ctx.group : alone;
  StepReduction reduction(group, st.params, 4);
  DpSgdStep step;
  step.max_grad_norm = schedule.max_grad_norm;
  step.noise_multiplier = schedule.noise_multiplier;
  step.expected_batch = schedule.sample_rate * static_cast<double>(schedule.units);
  step.per_layer = schedule.per_layer;
  const int64_t U = static_cast<int64_t>(units.rows.size());
  const int64_t steps_per_epoch = std::max<int64_t>(1, schedule.steps / std::max<int64_t>(1, ctx.config->privacy.epochs));
  Progress bar(label + " (DP-SGD)", static_cast<uint64_t>(schedule.steps), ctx.progress);
  StageResult result;
  double loss_sum = 0;
  int64_t loss_rows = 0;
  for (int64_t s = 0; s < schedule.steps; ++s) {
    if (s % steps_per_epoch == 0) loss_sum = 0, loss_rows = 0;
    const at::Tensor drawn = torch::rand({U}, st.gen) < schedule.sample_rate;
    const auto* pick = drawn.data_ptr<bool>();
    std::vector<int64_t> sampled;
    for (int64_t u = 0; u < U; ++u) {
      if (pick[u]) sampled.push_back(u);
    }
    // The rows of sampled units [b, e), and each row's unit numbered from 0.
    const auto rows_of = [&](int64_t b, int64_t e, std::vector<uint32_t>& rows, std::vector<int64_t>& unit_of_row) {
      for (int64_t k = b; k < e; ++k) {
        for (uint32_t r : units.rows[static_cast<size_t>(sampled[static_cast<size_t>(k)])]) {
          rows.push_back(r);
          unit_of_row.push_back(k - b);
        }
      }
    };
    // In fp32 whatever runtime.precision says: the clipping factors come from the captured
    // activations, and must bound the gradient that is applied.
    const auto per_row_loss = [&](const std::vector<uint32_t>& rows, const ForwardOptions& options) {
      return [&, options](ActivationCapture& capture) {
        const LabeledInput li = on_device(make_input(base.spec, batch, rows), ctx.device.device);
        ForwardOptions fo = options;
        fo.capture = &capture;
        const ModelOutput out = forward(base.spec, st.weights, li.input, fo);
        at::Tensor loss = torch::cross_entropy_loss(out.logits, li.labels, {}, at::Reduction::None);
        if (fo.want_lm) loss = loss + tc.lm_loss_weight * lm_loss_per_row(out.lm_logits, li.input);
        return loss;
      };
    };
    DpSgdStats stats;
    if (!micro) {
      std::vector<uint32_t> rows;
      std::vector<int64_t> unit_of_row;
      rows_of(0, static_cast<int64_t>(sampled.size()), rows, unit_of_row);
      stats = dp_sgd_gradients(st.params, &m.lora, unit_of_row, per_row_loss(rows, st.fo), step, st.gen);
    } else {
      // Micro-batches of privacy units: each unit is clipped whole inside one of them, so the
      // sum of their clipped sums is the step's clipped sum; the noise is drawn once, from the
      // node's generator, after the group has added them up (every member draws the same).
      const auto bounds = micro_batch_bounds(static_cast<int64_t>(sampled.size()), tc.micro_batch);
      const auto [first, last] = member_share(static_cast<int64_t>(bounds.size()), group.rank(), group.size());
      for (int64_t mb = first; mb < last; ++mb) {
        std::vector<uint32_t> rows;
        std::vector<int64_t> unit_of_row;
        rows_of(bounds[static_cast<size_t>(mb)].first, bounds[static_cast<size_t>(mb)].second, rows, unit_of_row);
        ForwardOptions fo = st.fo;
        fo.generator = micro_batch_generator(ctx.device, seed, s, mb);
        const DpSgdStats part = dp_clipped_sum(st.params, &m.lora, unit_of_row, per_row_loss(rows, fo), step);
        reduction.add({part.loss_sum, static_cast<double>(part.examples), static_cast<double>(part.units),
                       static_cast<double>(part.clipped)});
      }
      const std::vector<double> sums = reduction.finish(fmt::format("gradient exchange of step {} of {}", s + 1, node_id(node)));
      dp_noise_and_scale(st.params, step, st.gen);
      stats.loss_sum = sums[0];
      stats.examples = static_cast<int64_t>(sums[1]);
      stats.units = static_cast<int64_t>(sums[2]);
      stats.clipped = static_cast<int64_t>(sums[3]);
    }
    set_lr(*st.optimizer, scheduled_lr(tc, s, schedule.steps));
    st.optimizer->step();
    loss_sum += stats.loss_sum;
    loss_rows += stats.examples;
    result.curve.add(stats.loss_sum, stats.examples);
    result.samples += stats.examples;
    bar.set_note(fmt::format("step {}/{} loss {:.4f}, {} of {} clipped", s + 1, schedule.steps,
                             loss_rows ? loss_sum / static_cast<double>(loss_rows) : 0.0, stats.clipped, stats.units));
    bar.advance(1);
    if (ctx.between_steps) ctx.between_steps();
  }
  result.final_loss = loss_rows ? loss_sum / static_cast<double>(loss_rows) : 0.0;
  bar.finish();
  m.head = m.head.detach();
  return result;
}

}  // namespace

std::vector<SliceRow> train_slice_rows(const std::vector<SliceRow>& all, int shard, int shards, int slices_per_shard) {
  std::map<std::pair<int, int>, SliceRow> by_position;
  for (const SliceRow& s : all) {
    if (s.kind == "train") by_position[{s.shard, s.slice}] = s;
  }
  std::vector<SliceRow> out;
  const int first = shard < 0 ? 0 : shard, last = shard < 0 ? shards - 1 : shard;
  for (int s = first; s <= last; ++s) {
    for (int l = 0; l < slices_per_shard; ++l) {
      const auto it = by_position.find({s, l});
      if (it == by_position.end()) fail(ErrorKind::kIntegrity, "shard {} has no slice {} in the index", s, l);
      out.push_back(it->second);
    }
  }
  return out;
}

SliceData load_train_slices(Workspace& ws, int shard, int shards, int slices_per_shard) {
  SliceData d;
  d.slices = train_slice_rows(list_slices(ws.db), shard, shards, slices_per_shard);
  for (const SliceRow& s : d.slices) {
    d.batches.push_back(read_verified_slice(ws, s));
    d.live.push_back(live_rows(ws.db, s.slice_id));
  }
  return d;
}

std::vector<SeenSlice> inputs_of(const NodeSpec& node, const std::vector<SliceRow>& unit_slices) {
  std::vector<SeenSlice> seen;
  for (int l : node.prefix) seen.push_back({l, unit_slices[static_cast<size_t>(l)].hash});
  return seen;
}

std::string training_config_hash(const Config& c, const std::string& base_hash) {
  nlohmann::json j = {
      {"base", base_hash},
      {"lora", {{"r", c.lora.r}, {"lora_alpha", c.lora.lora_alpha}, {"lora_dropout", c.lora.lora_dropout},
                {"use_rslora", c.lora.use_rslora}, {"target_modules", c.lora.target_modules}}},
      {"train", {{"epochs_per_stage", c.train.epochs_per_stage}, {"batch_size", c.train.batch_size},
                 {"lr", c.train.lr}, {"lr_schedule", c.train.lr_schedule}, {"warmup_ratio", c.train.warmup_ratio},
                 {"weight_decay", c.train.weight_decay},
                 {"lm_loss_weight", c.train.lm_loss_weight}, {"seed", c.train.seed}}}};
  // Only when it cuts steps: nodes trained with whole batches keep their hashes.
  if (uses_micro_batches(c.train)) j["train"]["micro_batch"] = c.train.micro_batch;
  if (mode_traits(c.train.mode).dp_base) {  // only dp2's bytes depend on [privacy]; other modes' hashes stay as they were
    j["privacy"] = {{"target_epsilon", c.privacy.target_epsilon}, {"delta", c.privacy.delta},
                    {"max_grad_norm", c.privacy.max_grad_norm}, {"unit", c.privacy.unit},
                    {"clipping", c.privacy.clipping}, {"accountant", c.privacy.accountant},
                    {"epochs", c.privacy.epochs}, {"finetune_epochs", c.privacy.finetune_epochs}};
  }
  return blake2b_hex(j.dump());
}

TrainedNode train_node(const NodeTrainingContext& ctx, const NodeSpec& node,
                       const std::vector<AncestorRef>& ancestors, const std::string& parent_hash,
                       const SliceData& data, const std::string& label) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<SeenSlice> seen = inputs_of(node, data.slices);
  std::vector<std::string> slice_hashes;
  for (const SeenSlice& s : seen) slice_hashes.push_back(s.hash);
  // dp2's two nodes see the same slices: their name keeps their seeds apart.
  const std::string seed_kind = mode_traits(node.kind).dp_base ? node.kind + ":" + node.name : node.kind;
  const uint64_t seed = node_seed(static_cast<uint64_t>(ctx.config->train.seed), seed_kind, node.shard,
                                  node.prefix, slice_hashes);
  StageModel model = stage_model(ctx, node, ancestors, seed);
  const RecordBatch batch = stage_data(node, data);
  if (batch.size() == 0) {
    fail(ErrorKind::kInput, "{} node {} of shard {} has no live records to train on", node.kind, node.name, node.shard);
  }
  std::optional<DpSchedule> schedule;
  StageResult fit;
  if (node.dp) {
    const PrivacyUnits units = privacy_units(batch, ctx.config->privacy.unit);
    // The run planned it from the index's count of these units: the guarantee the checkpoint
    // and the index record must be the one this node is trained under.
    const int64_t have = static_cast<int64_t>(units.rows.size());
    if (!ctx.dp_schedule || ctx.dp_schedule->units != have) {
      fail(ErrorKind::kInternal, "DP node {} was planned for {} privacy units but its records hold {}", node.name,
           ctx.dp_schedule ? ctx.dp_schedule->units : 0, have);
    }
    schedule = *ctx.dp_schedule;
    fit = fit_stage_private(ctx, model, node, batch, units, *schedule, secret_dp_seed(*ctx.ws, seed), label);
  } else {
    // dp2's deployed model is a fine-tuning of the DP base: privacy.finetune_epochs.
    const int64_t epochs = mode_traits(node.kind).dp_base ? ctx.config->privacy.finetune_epochs : ctx.config->train.epochs_per_stage;
    fit = fit_stage(ctx, model, node, batch, epochs, seed, label);
  }

  TrainedNode out;
  NodeCheckpoint& ckpt = out.checkpoint;
  ckpt.meta.kind = node.kind;
  ckpt.meta.shard = node.shard;
  ckpt.meta.prefix = node.name;
  ckpt.meta.slices = seen;
  ckpt.meta.base_hash = ctx.base->hash;
  ckpt.meta.parent_hash = parent_hash;
  ckpt.meta.config_hash = ctx.config_hash;
  ckpt.meta.seed = seed;
  ckpt.meta.trained_with = numerics_on(ctx.device);
  ckpt.meta.metrics = {{"final_loss", fit.final_loss}, {"records", batch.size()}};
  if (schedule) ckpt.meta.metrics["privacy"] = privacy_json(*schedule);
  for (const auto& [module, adapter] : model.lora.adapters) {
    if (adapter.group != node.group) continue;
    ckpt.tensors[peft_key(module, "lora_A")] = adapter.A.detach().to(torch::kCPU);
    ckpt.tensors[peft_key(module, "lora_B")] = adapter.B.detach().to(torch::kCPU);
  }
  ckpt.tensors[kHeadKey] = model.head.detach().to(torch::kCPU);
  out.start_loss = fit.curve.start();
  out.end_loss = fit.curve.end();
  out.samples = fit.samples;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

double scheduled_lr(const TrainConfig& tc, int64_t step, int64_t total) {
  const double warmup = std::floor(tc.warmup_ratio * static_cast<double>(total));
  if (step < warmup) return tc.lr * static_cast<double>(step + 1) / (warmup + 1);
  const double progress = total > warmup ? (static_cast<double>(step) - warmup) / (static_cast<double>(total) - warmup) : 0;
  if (tc.lr_schedule == "linear") return tc.lr * (1 - progress);
  if (tc.lr_schedule == "cosine") return tc.lr * 0.5 * (1 + std::cos(M_PI * progress));
  return tc.lr;
}

void load_node_group(LoraSet& set, int group, const NodeCheckpoint& node) {
  for (auto& [module, adapter] : set.adapters) {
    if (adapter.group != group) continue;
    adapter.A = node.tensors.at(peft_key(module, "lora_A"));
    adapter.B = node.tensors.at(peft_key(module, "lora_B"));
  }
}

const at::Tensor& node_head(const NodeCheckpoint& node) { return node.tensors.at(kHeadKey); }

}  // namespace lethe
