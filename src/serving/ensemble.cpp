#include "src/serving/ensemble.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>

#include "checkpoints/node_checkpoint.h"
#include "src/common/error.h"
#include "src/index/workspace_plan.h"
#include "src/models/inputs.h"
#include "src/models/multi_lora.h"
#include "src/trainers/losses.h"
#include "src/trainers/node_training.h"
#include "src/trainers/training_plan.h"

namespace lethe {

namespace {

MemberModel load_member(Workspace& ws, const BaseModel& base, const Config& config, int groups,
                        const std::string& mode, const ShardView& sv, c10::Device device) {
  MemberModel m;
  m.shard = sv.shard;
  m.lora = make_lora_set(linear_layers(base.spec), config.lora, static_cast<int>(base.spec.num_layers), groups, 0);
  std::vector<bool> loaded(static_cast<size_t>(groups), false);
  for (size_t i = sv.chain.size(); i-- > 0;) {  // last first: the nearest holder of a group wins
    const int group = node_group(mode, i + 1);
    if (loaded[static_cast<size_t>(group)]) continue;
    const ComponentRow& c = sv.chain[i];
    const NodeCheckpoint node = read_node(ws.root / c.file, c.hash);
    if (node.meta.base_hash != base.hash) {
      fail(ErrorKind::kIntegrity, "{} node {} of shard {} was trained on another base model", mode, c.prefix, c.shard);
    }
    load_node_group(m.lora, group, node);
    loaded[static_cast<size_t>(group)] = true;
    if (i + 1 == sv.chain.size()) m.head = node_head(node);
  }
  for (int g = 0; g < groups; ++g) m.lora.enabled[static_cast<size_t>(g)] = loaded[static_cast<size_t>(g)];
  move_lora(m.lora, device);
  m.head = m.head.to(device);
  return m;
}

// The chunk size: LM logits are [chunk, T, vocab] per member, so text goes in small chunks.
int64_t chunk_size(const ModelSpec& spec, bool want_lm) { return want_lm ? 16 : 256; }

struct ChunkOutputs {
  at::Tensor member_logits;  // [members, n, labels]
  at::Tensor member_nll;     // [members + 1, n]: members, then the ensemble
  at::Tensor tokens;         // [n]
  at::Tensor labels;         // [n]
};

int64_t input_rows(const ModelInput& in) {
  for (const at::Tensor* t : {&in.tokens, &in.images, &in.features}) {
    if (t->defined()) return t->size(0);
  }
  return 0;
}

// Every member's logits over one chunk in a single forward pass (src/models/multi_lora.h).
at::Tensor all_members_logits(const Ensemble& e, const ModelInput& input) {
  MultiLora multi;
  multi.rows_per_member = input_rows(input);
  std::vector<at::Tensor>& heads = multi.member_weights["score"];
  for (const MemberModel& m : e.members) {
    multi.members.push_back(&m.lora);
    heads.push_back(m.head);
  }
  ForwardOptions fo;
  fo.multi = &multi;
  const ModelOutput o = forward(e.base.spec, e.base.weights, stack_for_members(input, e.members.size()), fo);
  return o.logits.view({static_cast<int64_t>(e.members.size()), multi.rows_per_member, o.logits.size(-1)});
}

ChunkOutputs run_chunk(const Ensemble& e, const RecordBatch& batch, const std::vector<uint32_t>& rows, bool want_lm) {
  torch::NoGradGuard no_grad;
  const LabeledInput li = on_device(make_input(e.base.spec, batch, rows), e.device.device);
  const PrecisionGuard precision(e.device);
  ChunkOutputs out;
  out.labels = li.labels;
  if (!want_lm) {
    out.member_logits = all_members_logits(e, li.input);
    return out;
  }
  // With the LM head, one member at a time: its logits are [chunk, T, vocab] per member, too
  // large to hold for every member at once.
  std::vector<at::Tensor> logits, nll;
  at::Tensor lm_sum;
  for (const MemberModel& m : e.members) {
    Weights weights = e.base.weights;
    weights["score.weight"] = m.head;
    ForwardOptions fo;
    fo.lora = &m.lora;
    fo.want_lm = want_lm;
    const ModelOutput o = forward(e.base.spec, weights, li.input, fo);
    logits.push_back(o.logits);
    const TokenNll t = token_nll(torch::log_softmax(o.lm_logits, -1), li.input);
    nll.push_back(t.nll);
    out.tokens = t.tokens;
    const at::Tensor lm = o.lm_logits.to(torch::kFloat32);  // summed in fp32 under bf16 too
    lm_sum = lm_sum.defined() ? lm_sum + lm : lm;
  }
  out.member_logits = torch::stack(logits);
  const at::Tensor mean = lm_sum / static_cast<double>(e.members.size());
  nll.push_back(token_nll(torch::log_softmax(mean, -1), li.input).nll);
  out.member_nll = torch::stack(nll);
  return out;
}

void append_bytes(std::string& out, const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  out.append(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
}

at::Tensor take_bytes(const std::string& in, size_t& pos, at::IntArrayRef shape, at::ScalarType type) {
  at::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
  const size_t n = static_cast<size_t>(t.nbytes());
  if (pos + n > in.size()) fail(ErrorKind::kInternal, "ensemble outputs from a rank are truncated");
  std::memcpy(t.data_ptr(), in.data() + pos, n);
  pos += n;
  return t;
}

at::Tensor vote(const at::Tensor& member_logits, const at::Tensor& mean) {
  const int64_t labels = member_logits.size(2);
  const at::Tensor votes = torch::one_hot(member_logits.argmax(-1), labels).sum(0).to(torch::kFloat64);  // [N, labels]
  // Ties go to the larger mean logit: add less than one vote, ordered by the mean's rank.
  const at::Tensor rank = mean.argsort(int64_t{-1}).argsort(int64_t{-1}).to(torch::kFloat64) / static_cast<double>(labels + 1);
  return (votes + rank).argmax(-1);
}

}  // namespace

View servable_view(Workspace& ws, const Config& config, const std::string& mode) {
  View view = current_view(ws, mode, config.privacy.after_forget == "dp_base");
  if (view.live.empty()) {
    fail(ErrorKind::kNotFound, "no shard of the {} model in '{}' has a live first stage: nothing can serve",
         mode, ws.root.string());
  }
  return view;
}

Ensemble load_ensemble(Workspace& ws, const Config& config, const std::string& mode) {
  return load_view(ws, config, servable_view(ws, config, mode));
}

bool same_components(const View& a, const View& b) {
  if (a.mode != b.mode || a.live.size() != b.live.size()) return false;
  for (size_t i = 0; i < a.live.size(); ++i) {
    const ShardView &x = a.live[i], &y = b.live[i];
    if (x.shard != y.shard || x.chain.size() != y.chain.size()) return false;
    for (size_t k = 0; k < x.chain.size(); ++k) {
      if (x.chain[k].component_id != y.chain[k].component_id || x.chain[k].hash != y.chain[k].hash) return false;
    }
  }
  return true;
}

Ensemble load_view(Workspace& ws, const Config& config, View view) {
  Ensemble e;
  e.view = std::move(view);
  const std::string& mode = e.view.mode;
  e.device = select_device(config.runtime.device, config.runtime.precision);
  e.base = load_base(ws, e.device.device);
  const int groups = mode_traits(mode).group_per_stage ? read_plan(ws.db).slices : 1;
  for (const ShardView& sv : e.view.live) e.members.push_back(load_member(ws, e.base, config, groups, mode, sv, e.device.device));
  return e;
}

EnsembleOutputs run_ensemble(const Comm& comm, const Ensemble& e, const RecordBatch& batch,
                             const std::vector<uint32_t>& rows, Combine combine, bool want_lm) {
  const int64_t chunk = chunk_size(e.base.spec, want_lm);
  const int64_t members = static_cast<int64_t>(e.members.size());
  const int64_t labels = e.base.spec.num_labels;
  const size_t chunks = (rows.size() + static_cast<size_t>(chunk) - 1) / static_cast<size_t>(chunk);
  auto chunk_rows = [&](size_t c) {
    const size_t start = c * static_cast<size_t>(chunk), end = std::min(rows.size(), start + static_cast<size_t>(chunk));
    return std::vector<uint32_t>(rows.begin() + static_cast<long>(start), rows.begin() + static_cast<long>(end));
  };
  // Chunk c runs on rank c mod R; each rank sends its chunks' outputs as raw bytes.
  std::string mine;
  for (size_t c = static_cast<size_t>(comm.rank); c < chunks; c += static_cast<size_t>(comm.size)) {
    const ChunkOutputs o = run_chunk(e, batch, chunk_rows(c), want_lm);
    append_bytes(mine, o.member_logits.to(torch::kCPU, torch::kFloat32));
    append_bytes(mine, o.labels.to(torch::kCPU, torch::kInt64));
    if (want_lm) {
      append_bytes(mine, o.member_nll.to(torch::kCPU, torch::kFloat64));
      append_bytes(mine, o.tokens.to(torch::kCPU, torch::kInt64));
    }
  }
  const std::vector<std::string> all = gather(comm, mine);
  EnsembleOutputs out;
  if (!comm.is_root()) return out;

  std::vector<size_t> pos(all.size(), 0);
  std::vector<at::Tensor> member_logits, label_parts, nll_parts, token_parts;
  for (size_t c = 0; c < chunks; ++c) {
    const size_t r = c % all.size();
    const int64_t n = static_cast<int64_t>(chunk_rows(c).size());
    member_logits.push_back(take_bytes(all[r], pos[r], {members, n, labels}, torch::kFloat32));
    label_parts.push_back(take_bytes(all[r], pos[r], {n}, torch::kInt64));
    if (want_lm) {
      nll_parts.push_back(take_bytes(all[r], pos[r], {members + 1, n}, torch::kFloat64));
      token_parts.push_back(take_bytes(all[r], pos[r], {n}, torch::kInt64));
    }
  }
  if (chunks == 0) {
    out.member_logits = torch::zeros({members, 0, labels});
    out.labels = torch::zeros({0}, torch::kInt64);
  } else {
    out.member_logits = torch::cat(member_logits, 1);
    out.labels = torch::cat(label_parts);
  }
  // Summed in member order: the same bits on any number of ranks.
  at::Tensor sum = out.member_logits[0].clone();
  for (int64_t m = 1; m < members; ++m) sum = sum + out.member_logits[m];
  out.logits = sum / static_cast<double>(members);
  out.predicted = combine == Combine::kVote ? vote(out.member_logits, out.logits) : out.logits.argmax(-1);
  if (want_lm && chunks > 0) {
    const at::Tensor nll = torch::cat(nll_parts, 1);
    out.member_nll = nll.slice(0, 0, members);
    out.nll = nll[members];
    out.tokens = torch::cat(token_parts);
  }
  return out;
}

double perplexity(const at::Tensor& nll, const at::Tensor& tokens) {
  const int64_t n = tokens.defined() ? tokens.sum().item<int64_t>() : 0;
  if (n == 0) return 0.0;
  return std::exp(nll.sum().item<double>() / static_cast<double>(n));
}

}  // namespace lethe
