#include "src/trainers/pretrain.h"

#include <torch/torch.h>

#include <chrono>
#include <numeric>

#include "src/common/device.h"
#include "src/common/error.h"
#include "src/models/inputs.h"
#include "src/trainers/data_parallel.h"
#include "src/trainers/epoch_order.h"
#include "src/trainers/losses.h"
#include "src/trainers/predict.h"
#include "src/trainers/workspace_data.h"

namespace lethe {

namespace {

std::vector<uint32_t> all_rows(const RecordBatch& b) {
  std::vector<uint32_t> rows(b.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
  return rows;
}

int64_t majority_label(const RecordBatch& b, int64_t num_labels) {
  std::vector<int64_t> counts(static_cast<size_t>(num_labels), 0);
  for (int32_t l : b.labels) ++counts[static_cast<size_t>(l)];
  return std::max_element(counts.begin(), counts.end()) - counts.begin();
}

}  // namespace

PretrainReport pretrain(Workspace& ws, const Comm& comm, const Config& config, const ProgressOptions& progress,
                        spdlog::logger& log) {
  const auto t0 = std::chrono::steady_clock::now();
  const PretrainConfig& pc = config.pretrain;
  const bool micro = uses_micro_batches(pc.batch_size, pc.micro_batch);
  if (!micro && comm.size > 1) {
    if (comm.is_root()) {
      log.warn("pretrain over {} ranks without micro-batches: rank 0 trains alone; set pretrain.micro_batch below "
               "pretrain.batch_size to share its steps", comm.size);
    }
    const bool root = comm.is_root();
    PretrainReport r;
    if (root) r = pretrain(ws, Comm{}, config, progress, log);
    barrier(comm);
    return r;
  }
  std::vector<int> everyone(static_cast<size_t>(comm.size));
  std::iota(everyone.begin(), everyone.end(), 0);
  RankGroup group = RankGroup::split(comm, comm.size > 1 ? everyone : std::vector<int>{}, config.runtime.collective_timeout);
  const ModelSpec spec = resolve_model_spec(config.model, workspace_data_shape(ws));
  const SliceRow public_slice = split_slice(ws, "public");
  const RecordBatch data = read_verified_slice(ws, public_slice);
  if (comm.is_root()) log.info("pretraining a {} base ({} layers, hidden {}) on {} public records", spec.arch,
           spec.num_layers, spec.hidden_size, data.size());

  // Initialised on the CPU (the same bits everywhere), trained on runtime.device in fp32 (the
  // whole model trains: there is no frozen base for bf16 autocast to speed up).
  const c10::Device device = select_device(config.runtime.device, "fp32").device;
  Weights weights = init_weights(spec, static_cast<uint64_t>(pc.seed));
  std::vector<at::Tensor> params;
  for (auto& [name, t] : weights) {
    t = t.to(device);
    t.set_requires_grad(true);
    params.push_back(t);
  }
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(pc.lr).weight_decay(pc.weight_decay));
  const bool with_lm = spec.arch == "llama" && pc.lm_loss_weight > 0;

  PretrainReport report;
  report.records = static_cast<int64_t>(data.size());
  const int64_t n = report.records, bs = pc.batch_size;
  const int64_t steps_per_epoch = (n + bs - 1) / bs;
  Progress bar(comm.size > 1 ? fmt::format("rank {}: pretrain", comm.rank) : "pretrain",
               static_cast<uint64_t>(steps_per_epoch * pc.epochs), progress);
  StepReduction reduction(group, params, 1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(pc.seed) ^ 0x5eedULL);
  for (int64_t epoch = 0; epoch < pc.epochs; ++epoch) {
    // The batch order depends only on the seed and the epoch.
    const EpochOrder order = epoch_order(n, bs, gen);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      ForwardOptions fo;
      fo.training = true;
      fo.want_lm = with_lm;
      const std::vector<uint32_t> rows = order.rows(s);
      if (micro) {  // the micro-batches' losses add up to the step's mean loss
        const double divisor = static_cast<double>(rows.size());
        const double tokens = with_lm ? static_cast<double>(lm_targets(make_input(spec, data, rows).input)) : 0;
        const auto loss_of = [&](const std::vector<uint32_t>& part, int64_t) {
          const LabeledInput li = on_device(make_input(spec, data, part), device);
          const ModelOutput out = forward(spec, weights, li.input, fo);
          at::Tensor loss = torch::cross_entropy_loss(out.logits, li.labels, {}, at::Reduction::Sum) / divisor;
          if (with_lm && tokens > 0) loss = loss + pc.lm_loss_weight * lm_loss_sum(out.lm_logits, li.input) / tokens;
          return loss;
        };
        loss_sum += shared_step(group, reduction, rows, pc.micro_batch, [&] { optimizer.zero_grad(); }, loss_of,
                                fmt::format("gradient exchange of pretraining step {}", report.steps + 1));
        optimizer.step();
      } else {
        const LabeledInput li = on_device(make_input(spec, data, rows), device);
        const ModelOutput out = forward(spec, weights, li.input, fo);
        at::Tensor loss = torch::cross_entropy_loss(out.logits, li.labels);
        if (with_lm) loss = loss + pc.lm_loss_weight * lm_loss(out.lm_logits, li.input);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        loss_sum += loss.item<double>();
      }
      ++report.steps;
      bar.advance(1);
    }
    report.final_loss = loss_sum / static_cast<double>(steps_per_epoch);
    if (comm.is_root()) log.info("epoch {}/{}: mean loss {:.4f}", epoch + 1, pc.epochs, report.final_loss);
  }
  bar.finish();
  if (!comm.is_root()) {  // every rank holds the same weights: rank 0 evaluates and stores them
    barrier(comm);
    return PretrainReport{};
  }

  for (auto& [name, t] : weights) t = t.detach().clone();
  const RecordBatch test = read_verified_slice(ws, split_slice(ws, "test"));
  report.test.records = static_cast<int64_t>(test.size());
  const Predictions predicted = predict_rows(spec, weights, nullptr, test, all_rows(test), 256);
  report.test.accuracy = accuracy_of(predicted.logits, predicted.labels);
  const int64_t majority = majority_label(data, spec.num_labels);
  int64_t hits = 0;
  for (int32_t l : test.labels) hits += l == majority;
  report.test.majority_accuracy = test.size() ? static_cast<double>(hits) / static_cast<double>(test.size()) : 0;
  report.test.chance = 1.0 / static_cast<double>(spec.num_labels);
  if (spec.arch == "llama") report.test.perplexity = lm_perplexity(spec, weights, nullptr, test, all_rows(test), 16);

  BaseProvenance prov;
  prov.source = "pretrain";
  prov.trained_on_slice = public_slice.slice_id;
  prov.trained_on_hash = public_slice.hash;
  for (auto& [name, t] : weights) t = t.to(torch::kCPU);
  report.base = store_base(ws, spec, weights, prov);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  barrier(comm);
  return report;
}

}  // namespace lethe
