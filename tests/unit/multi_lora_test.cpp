// Every shard's serving model over one batch in one pass (src/models/multi_lora.h) gives what one
// forward pass per shard gives.
#include "tests/support/catch_torch.h"

#include "src/models/model.h"
#include "src/models/multi_lora.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

// Member m: its own adapters (B not zero, so each one changes the output), its own head, and
// serving prefixes of different lengths: member 0 both groups, member 1 only the first, member 2
// none (the base with its own head).
struct Members {
  std::vector<LoraSet> sets;
  std::vector<at::Tensor> heads;
};

Members members(const ModelSpec& spec, int count) {
  LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.target_modules = {"q_proj", "v_proj"};
  Members out;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  for (int m = 0; m < count; ++m) {
    LoraSet set = make_lora_set(linear_layers(spec), c, spec.num_layers, 2, static_cast<uint64_t>(10 + m));
    for (auto& [name, a] : set.adapters) a.B = torch::randn(a.B.sizes(), gen) * 0.5;
    set.enabled = {m == 0, m <= 1};
    out.sets.push_back(std::move(set));
    out.heads.push_back(torch::randn({spec.num_labels, spec.hidden_size}, gen));
  }
  return out;
}

ModelInput tokens_input(const ModelSpec& spec, int64_t rows) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  ModelInput in;
  in.tokens = torch::randint(spec.vocab_size, {rows, spec.max_seq_len}, gen);
  in.lengths = torch::randint(1, spec.max_seq_len + 1, {rows}, gen);
  return in;
}

}  // namespace

TEST_CASE("multi-LoRA: one pass over every member's rows gives each member's own forward pass", "[models][kernels]") {
  for (const ModelSpec& spec : {test::tiny_llama(4, 6), test::tiny_vit()}) {
    INFO(spec.arch);
    torch::NoGradGuard no_grad;
    const Weights w = init_weights(spec, 1);
    const Members ms = members(spec, 3);
    ModelInput in;
    if (spec.arch == "llama") {
      in = tokens_input(spec, 5);
    } else {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
      in.images = torch::rand({5, spec.image_size, spec.image_size}, gen);
    }
    MultiLora multi;
    multi.rows_per_member = 5;
    for (size_t m = 0; m < ms.sets.size(); ++m) {
      multi.members.push_back(&ms.sets[m]);
      multi.member_weights["score"].push_back(ms.heads[m]);
    }
    ForwardOptions all;
    all.multi = &multi;
    const at::Tensor together = forward(spec, w, stack_for_members(in, 3), all).logits.view({3, 5, spec.num_labels});
    for (size_t m = 0; m < ms.sets.size(); ++m) {
      Weights own = w;
      own["score.weight"] = ms.heads[m];
      ForwardOptions one;
      one.lora = &ms.sets[m];
      const at::Tensor alone = forward(spec, own, in, one).logits;
      CHECK(torch::allclose(together[static_cast<int64_t>(m)], alone, 1e-5, 1e-6));
    }
    // The members differ, so the check above compares something: no member's rows equal another's.
    CHECK(!torch::allclose(together[0], together[1], 1e-3, 1e-3));
    CHECK(!torch::allclose(together[1], together[2], 1e-3, 1e-3));
  }
}

TEST_CASE("multi-LoRA: a batch that is not members x rows is an internal error, not a wrong answer", "[models][kernels]") {
  const ModelSpec spec = test::tiny_llama(4, 6);
  const Weights w = init_weights(spec, 1);
  const Members ms = members(spec, 2);
  MultiLora multi;
  multi.rows_per_member = 4;  // but 5 rows each below
  for (const LoraSet& s : ms.sets) multi.members.push_back(&s);
  ForwardOptions fo;
  fo.multi = &multi;
  CHECK_THROWS_WITH(forward(spec, w, stack_for_members(tokens_input(spec, 5), 2), fo), Catch::Contains("10 rows for 2 members of 4 rows"));
}
