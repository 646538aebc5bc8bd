#include "bench/bench_train_step.h"

#include <torch/torch.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include "bench/sgemm.h"
#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/common/subprocess.h"
#include "peft/lora.h"
#include "src/privacy/dp_sgd.h"
#include "src/common/device.h"
#include "src/common/platform.h"
#include "src/models/model.h"

namespace lethe {

namespace {

// FLOPs of one training step with a frozen base: the forward pass, plus the backward pass's
// gradients with respect to activations (2x forward for every Linear: no weight gradients for
// the base) and attention's backward (2x its forward). The adapters' own small matmuls are
// not counted, so the figure errs low.
double step_flops(const ModelSpec& s, int64_t batch) {
  const double t = static_cast<double>(s.max_seq_len), h = static_cast<double>(s.hidden_size);
  const double attention = 4.0 * t * t * h * static_cast<double>(s.num_layers);
  const double forward = forward_flops_per_example(s);
  const double linear = forward - attention;
  return static_cast<double>(batch) * (2.0 * linear + 3.0 * attention);
}

}  // namespace

nlohmann::json bench_train_step(const TrainStepBenchOptions& o, spdlog::logger& log) {
  ModelConfig mc;
  mc.arch = "llama";
  mc.preset = o.preset;
  mc.max_seq_len = o.seq_len;
  DataShape data;
  data.payload_kind = "text";
  data.vocab_size = 256;
  data.num_labels = 4;
  const ModelSpec spec = resolve_model_spec(mc, data);
  const c10::Device device = o.device.device;
  Weights weights = init_weights(spec, 1);  // frozen: no tensor requires grad
  for (auto& [name, w] : weights) w = w.to(device);
  LoraConfig lc;  // r 8, alpha 16, q_proj and v_proj: the defaults
  LoraSet lora = make_lora_set(linear_layers(spec), lc, static_cast<int>(spec.num_layers), 1, 2);
  move_lora(lora, device);
  const std::vector<at::Tensor> params = set_trainable_groups(lora, {0});
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-3));

  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  ModelInput in;
  in.tokens = torch::randint(0, 256, {o.batch_size, spec.max_seq_len}, gen, torch::kInt64);
  in.lengths = torch::full({o.batch_size}, spec.max_seq_len, torch::kInt64);
  const at::Tensor labels = torch::randint(0, 4, {o.batch_size}, gen, torch::kInt64).to(device);
  in.tokens = in.tokens.to(device);
  in.lengths = in.lengths.to(device);
  ForwardOptions fo;
  fo.lora = &lora;
  fo.training = true;
  auto step = [&] {
    at::Tensor loss;
    {
      const PrecisionGuard precision(o.device);
      loss = torch::cross_entropy_loss(forward(spec, weights, in, fo).logits, labels);
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  };
  // The same step under DP-SGD: every sequence its own privacy unit, clipped with ghost norms,
  // noised, averaged over the (here fixed) batch.
  std::vector<int64_t> units(static_cast<size_t>(o.batch_size));
  for (size_t i = 0; i < units.size(); ++i) units[i] = static_cast<int64_t>(i);
  DpSgdStep dp;
  dp.max_grad_norm = 1.0;
  dp.noise_multiplier = 1.0;
  dp.expected_batch = static_cast<double>(o.batch_size);
  auto dp_step = [&] {
    dp_sgd_gradients(params, &lora, units, [&](ActivationCapture& capture) {
      ForwardOptions f = fo;
      f.capture = &capture;
      return torch::cross_entropy_loss(forward(spec, weights, in, f).logits, labels, {}, at::Reduction::None);
    }, dp, gen);
    optimizer.step();
  };
  const auto time_steps = [&](const std::function<void()>& one) {
    for (int i = 0; i < 2; ++i) one();
    wait_for(device);  // the warm-up's queued GPU work is not timed
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < o.steps; ++i) one();
    wait_for(device);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const int threads = current_threads();
  log.info("train-step: {} preset, hidden {}, {} layers, batch {} x {} tokens, on {}, {} threads", o.preset,
           spec.hidden_size, spec.num_layers, o.batch_size, spec.max_seq_len, o.device.describe(), threads);
  const double seconds = time_steps(step);
  const double dp_seconds = o.dp ? time_steps(dp_step) : 0.0;

  const double tokens = static_cast<double>(o.steps * o.batch_size * spec.max_seq_len);
  const double gflops = step_flops(spec, o.batch_size) * static_cast<double>(o.steps) / seconds / 1e9;
  // The peak of the precision the products ran in, on the device they ran on.
  const double fp32_peak = o.device.is_cuda() ? measure_gemm_gflops(device, c10::kFloat, 8192) : measure_sgemm_gflops();
  const double bf16_peak = o.device.is_cuda() ? measure_gemm_gflops(device, c10::kBFloat16, 8192) : 0.0;
  const double peak = o.device.bf16 ? bf16_peak : fp32_peak;
  nlohmann::json r = {{"benchmark", "train-step"},
          {"device", o.device.describe()},
          {"precision", o.device.bf16 ? "bf16" : "fp32"},
          {"preset", o.preset},
          {"hidden_size", spec.hidden_size},
          {"num_layers", spec.num_layers},
          {"seq_len", spec.max_seq_len},
          {"batch_size", o.batch_size},
          {"steps", o.steps},
          {"threads", threads},
          {"libtorch", torch_version()},
          {"blas", blas_info().name},
          {"seconds_per_step", seconds / static_cast<double>(o.steps)},
          {"tokens_per_s", tokens / seconds},
          {"achieved_gflops", gflops},
          {"sgemm_peak_gflops", fp32_peak},
          {"fraction_of_peak", gflops / peak}};
  if (o.device.is_cuda()) r["gemm_peak_gflops_bf16"] = bf16_peak;
  if (o.dp) {
    r["dp_seconds_per_step"] = dp_seconds / static_cast<double>(o.steps);
    r["dp_overhead"] = dp_seconds / seconds;
  }
  if (o.compare_python) {
    // The same step as a Python user would write it, in the same run: same sizes, LoRA
    // options, tokens per step and threads, the same torch underneath.
    const fs::path script = fs::path(LETHE_SOURCE_DIR) / "bench/python/train_step.py";
    std::string name = (fs::temp_directory_path() / "lethe-train-step-XXXXXX").string();
    const int fd = ::mkstemp(name.data());
    if (fd < 0) fail_errno("cannot create a temporary file", name);
    ::close(fd);
    const fs::path out = name;
    const std::string python = o.python.empty() ? std::string(LETHE_VENV_PYTHON) : o.python;
    std::vector<std::string> argv = {python, script.string(),
        "--hidden", std::to_string(spec.hidden_size), "--layers", std::to_string(spec.num_layers),
        "--heads", std::to_string(spec.num_heads), "--intermediate", std::to_string(spec.intermediate_size),
        "--seq", std::to_string(spec.max_seq_len), "--batch", std::to_string(o.batch_size),
        "--steps", std::to_string(o.steps), "--threads", std::to_string(threads), "--r", std::to_string(lc.r),
        "--alpha", std::to_string(lc.lora_alpha), "--dropout", std::to_string(lc.lora_dropout), "--lr", "0.001",
        "--out", out.string()};
    if (o.dp) argv.push_back("--dp");

    log.info("train-step: the same step in Python (transformers + PEFT{})", o.dp ? ", Opacus" : "");
    const int status = run_program(argv);
    std::error_code ec;
    if (status != 0) {
      fs::remove(out, ec);
      fail(ErrorKind::kUsage, "{} {} failed (exit {}): --compare-python needs the venv of scripts/install-deps.sh "
           "(or --python PATH with torch, transformers, peft and opacus)", python, script.string(), status);
    }
    const nlohmann::json py = nlohmann::json::parse(read_file(out));
    fs::remove(out, ec);
    r["python"] = py;
    r["python_ratio"] = r["tokens_per_s"].get<double>() / py.at("tokens_per_s").get<double>();
    if (o.dp) r["opacus_ratio"] = py.at("dp_seconds_per_step").get<double>() / r["dp_seconds_per_step"].get<double>();
  }
  return r;
}

}  // namespace lethe
