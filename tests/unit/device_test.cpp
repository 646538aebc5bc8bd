// Where a process computes (src/common/device.h), and that the models follow their inputs to
// whatever device they are on.
#include "tests/support/catch_torch.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include "src/common/device.h"
#include "src/common/error.h"
#include "src/models/model.h"
#include "src/models/multi_lora.h"
#include "src/trainers/losses.h"
#include "tests/support/skip.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

// Sets an environment variable for one scope, then puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  FAIL("no error");
  return ErrorKind::kInternal;
}

// LibTorch's C++ build has no meta kernel for index_select (Python registers one), which the
// embedding lookup needs; this gives it one, shapes only, for as long as the test runs.
struct MetaIndexSelect {
  MetaIndexSelect() {
    const auto op = c10::Dispatcher::singleton().findSchema({"aten::index_select", ""});
    if (op && op->hasKernelForDispatchKey(c10::DispatchKey::Meta)) return;
    library.emplace(torch::Library::IMPL, "aten", c10::DispatchKey::Meta, __FILE__, __LINE__);
    library->impl("index_select", [](const at::Tensor& self, int64_t dim, const at::Tensor& index) {
      std::vector<int64_t> sizes = self.sizes().vec();
      sizes[static_cast<size_t>(dim)] = index.numel();
      return at::empty(sizes, self.options());
    });
  }
  std::optional<torch::Library> library;
};

}  // namespace

TEST_CASE("device: auto takes a GPU exactly when one is visible, cpu always the CPU", "[device]") {
  const bool gpu = !cuda_info().gpus.empty();
  const ComputeDevice a = select_device("auto", "fp32");
  CHECK(a.is_cuda() == gpu);
  CHECK(a.describe() == (gpu ? a.describe() : "cpu"));
  const ComputeDevice c = select_device("cpu", "fp32");
  CHECK(!c.is_cuda());
  CHECK(numerics_on(c).device == "cpu");
  CHECK(numerics_on(c).precision == "fp32");
  if (gpu) {
    CHECK(numerics_on(a).device == "cuda");
    CHECK(numerics_on(a).gpu == a.gpu);
  }
}

TEST_CASE("device: cuda without a GPU, bf16 on the CPU and unknown names are usage errors that say why", "[device]") {
  CHECK_THROWS_WITH(select_device("tpu", "fp32"), Catch::Contains("runtime.device 'tpu'"));
  CHECK_THROWS_WITH(select_device("cpu", "fp16"), Catch::Contains("runtime.precision 'fp16'"));
  CHECK_THROWS_WITH(select_device("cpu", "bf16"), Catch::Contains("runs on a GPU only"));
  CHECK(kind_of([] { select_device("cpu", "bf16"); }) == ErrorKind::kUsage);
  if (!cuda_info().gpus.empty()) LETHE_SKIP("this machine has a GPU: the no-GPU errors cannot be seen here");
  CHECK_THROWS_WITH(select_device("cuda", "fp32"), Catch::Contains("has no GPU"));
  CHECK(kind_of([] { select_device("cuda", "fp32"); }) == ErrorKind::kUsage);
  CHECK_THROWS_WITH(select_device("auto", "bf16"), Catch::Contains("runs on a GPU only"));
}

TEST_CASE("device: a rank's local index comes from its launcher (OpenMPI, then Slurm, then MPICH)", "[device]") {
  ScopedEnv ompi("OMPI_COMM_WORLD_LOCAL_RANK", nullptr), slurm("SLURM_LOCALID", nullptr),
      mpich("MPI_LOCALRANKID", nullptr);
  CHECK(local_rank() == 0);
  {
    ScopedEnv m("MPI_LOCALRANKID", "5");
    CHECK(local_rank() == 5);
    ScopedEnv s("SLURM_LOCALID", "2");
    CHECK(local_rank() == 2);
    ScopedEnv o("OMPI_COMM_WORLD_LOCAL_RANK", "3");
    CHECK(local_rank() == 3);
  }
  ScopedEnv bad("OMPI_COMM_WORLD_LOCAL_RANK", "x1");  // not a number: ignored, not a crash
  CHECK(local_rank() == 0);
}

// The meta device holds shapes without data, and most operators refuse to mix it with CPU
// tensors ("Expected all tensors to be on the same device"), so a forward pass on it fails where
// the model makes a tensor on the CPU instead of its inputs' device: what would break on a GPU,
// caught on a machine without one. (masked_fill's mask is not checked on meta; measured: a CPU
// RoPE table fails this test, a CPU causal mask does not.)
TEST_CASE("device: forward passes and the LM loss make every tensor on their inputs' device", "[device][models]") {
  const c10::Device meta(c10::kMeta);
  const MetaIndexSelect index_select;
  const auto on_meta = [&](Weights w) {
    for (auto& [name, t] : w) t = t.to(meta);
    return w;
  };
  LoraConfig lc;
  lc.r = 2;
  lc.lora_alpha = 4;
  lc.lora_dropout = 0.1;
  lc.target_modules = {"q_proj", "v_proj"};

  SECTION("llama, training with LoRA dropout and the LM head") {
    const ModelSpec spec = test::tiny_llama(2, 6);
    const Weights w = on_meta(init_weights(spec, 1));
    LoraSet lora = make_lora_set(linear_layers(spec), lc, spec.num_layers, 2, 3);
    move_lora(lora, meta);
    ModelInput in;
    in.tokens = torch::zeros({3, 6}, torch::TensorOptions(torch::kInt64).device(meta));
    in.lengths = torch::ones({3}, torch::TensorOptions(torch::kInt64).device(meta));
    ForwardOptions fo;
    fo.lora = &lora;
    fo.training = true;
    fo.want_lm = true;
    const ModelOutput out = forward(spec, w, in, fo);
    CHECK(out.logits.device() == meta);
    CHECK(lm_loss_per_row(out.lm_logits, in).device() == meta);

    MultiLora multi;  // eval's path: two members over one stacked batch
    multi.rows_per_member = 3;
    multi.members = {&lora, &lora};
    ForwardOptions mo;
    mo.multi = &multi;
    CHECK(forward(spec, w, stack_for_members(in, 2), mo).logits.device() == meta);
  }
  SECTION("vit and mlp") {
    const ModelSpec vit = test::tiny_vit();
    ModelInput images;
    images.images = torch::zeros({2, vit.image_size, vit.image_size}, torch::TensorOptions().device(meta));
    CHECK(forward(vit, on_meta(init_weights(vit, 1)), images).logits.device() == meta);
    const ModelSpec mlp = test::tiny_mlp(5, 3);
    ModelInput features;
    features.features = torch::zeros({2, 5}, torch::TensorOptions().device(meta));
    CHECK(forward(mlp, on_meta(init_weights(mlp, 1)), features).logits.device() == meta);
  }
}
