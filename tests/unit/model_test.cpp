// The models: the Llama block against a hand-computed reference, shapes and names, and
// deterministic initialisation.
#include "tests/support/catch_torch.h"

#include <cmath>

#include "src/common/error.h"
#include "src/models/blocks.h"
#include "src/models/inputs.h"
#include "src/models/model.h"
#include "tests/support/tiny_models.h"

using namespace lethe;

namespace {

ModelSpec tiny_llama() { return test::tiny_llama(2, 5); }

using Matrix = std::vector<std::vector<double>>;

Matrix to_matrix(const at::Tensor& t) {
  const at::Tensor d = t.to(torch::kFloat64).contiguous();
  Matrix m(static_cast<size_t>(d.size(0)), std::vector<double>(static_cast<size_t>(d.size(1))));
  for (int64_t i = 0; i < d.size(0); ++i) {
    for (int64_t j = 0; j < d.size(1); ++j) m[i][j] = d[i][j].item<double>();
  }
  return m;
}

// y = x W^T for one row.
std::vector<double> matvec(const Matrix& w, const std::vector<double>& x) {
  std::vector<double> y(w.size(), 0.0);
  for (size_t o = 0; o < w.size(); ++o) {
    for (size_t i = 0; i < x.size(); ++i) y[o] += w[o][i] * x[i];
  }
  return y;
}

std::vector<double> rms(const std::vector<double>& x, const std::vector<double>& g, double eps) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= static_cast<double>(x.size());
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = g[i] * x[i] / std::sqrt(ms + eps);
  return y;
}

// RoPE on one head vector at position p, Hugging Face's half-split layout.
std::vector<double> rope(const std::vector<double>& v, int64_t p, double theta) {
  const size_t d = v.size(), half = d / 2;
  std::vector<double> out(d);
  for (size_t i = 0; i < half; ++i) {
    const double freq = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(d));
    const double c = std::cos(p * freq), s = std::sin(p * freq);
    out[i] = v[i] * c - v[i + half] * s;
    out[i + half] = v[i + half] * c + v[i] * s;
  }
  return out;
}

}  // namespace

TEST_CASE("model: the llama block matches a hand-computed reference", "[model]") {
  const ModelSpec s = tiny_llama();
  Weights w = init_weights(s, 3);
  // Non-trivial norm weights, so that they are exercised too.
  w["model.layers.0.input_layernorm.weight"] = torch::linspace(0.5, 1.5, 8);
  w["model.layers.0.post_attention_layernorm.weight"] = torch::linspace(1.2, 0.8, 8);
  const int64_t t = 4, hd = s.head_dim();
  const at::Tensor h = torch::randn({1, t, s.hidden_size}, at::make_generator<at::CPUGeneratorImpl>(9));
  const auto tables = blocks::rope_tables(t, hd, s.rope_theta);
  const at::Tensor got = blocks::transformer_block(s, w, {}, "model.layers.0", h, true, &tables);

  const std::string p = "model.layers.0.";
  const Matrix q = to_matrix(w[p + "self_attn.q_proj.weight"]), k = to_matrix(w[p + "self_attn.k_proj.weight"]),
               v = to_matrix(w[p + "self_attn.v_proj.weight"]), o = to_matrix(w[p + "self_attn.o_proj.weight"]),
               gate = to_matrix(w[p + "mlp.gate_proj.weight"]), up = to_matrix(w[p + "mlp.up_proj.weight"]),
               down = to_matrix(w[p + "mlp.down_proj.weight"]);
  const auto g1 = to_matrix(w[p + "input_layernorm.weight"].unsqueeze(0))[0];
  const auto g2 = to_matrix(w[p + "post_attention_layernorm.weight"].unsqueeze(0))[0];
  const Matrix x = to_matrix(h[0]);

  std::vector<Matrix> qh(t), kh(t), vh(t);  // [pos][head][dim]
  for (int64_t pos = 0; pos < t; ++pos) {
    const auto n = rms(x[pos], g1, s.rms_norm_eps);
    const auto qa = matvec(q, n), ka = matvec(k, n), va = matvec(v, n);
    for (int64_t head = 0; head < s.num_heads; ++head) {
      const auto slice = [&](const std::vector<double>& a) {
        return std::vector<double>(a.begin() + head * hd, a.begin() + (head + 1) * hd);
      };
      qh[pos].push_back(rope(slice(qa), pos, s.rope_theta));
      kh[pos].push_back(rope(slice(ka), pos, s.rope_theta));
      vh[pos].push_back(slice(va));
    }
  }
  for (int64_t pos = 0; pos < t; ++pos) {
    std::vector<double> attn;
    for (int64_t head = 0; head < s.num_heads; ++head) {
      std::vector<double> score(pos + 1);
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j <= pos; ++j) {  // causal: only earlier positions
        double d = 0;
        for (int64_t c = 0; c < hd; ++c) d += qh[pos][head][c] * kh[j][head][c];
        score[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, score[j]);
      }
      for (auto& sc : score) z += (sc = std::exp(sc - mx));
      for (int64_t c = 0; c < hd; ++c) {
        double acc = 0;
        for (int64_t j = 0; j <= pos; ++j) acc += score[j] / z * vh[j][head][c];
        attn.push_back(acc);
      }
    }
    std::vector<double> r = x[pos];
    const auto oa = matvec(o, attn);
    for (size_t i = 0; i < r.size(); ++i) r[i] += oa[i];
    const auto n2 = rms(r, g2, s.rms_norm_eps);
    const auto ga = matvec(gate, n2), ua = matvec(up, n2);
    std::vector<double> act(ga.size());
    for (size_t i = 0; i < ga.size(); ++i) act[i] = ga[i] / (1 + std::exp(-ga[i])) * ua[i];
    const auto da = matvec(down, act);
    for (size_t i = 0; i < r.size(); ++i) {
      CHECK(got[0][pos][static_cast<int64_t>(i)].item<double>() == Approx(r[i] + da[i]).margin(1e-5));
    }
  }
}

TEST_CASE("model: weights carry Hugging Face Llama names and the spec's shapes", "[model]") {
  const ModelSpec s = tiny_llama();
  const Weights w = init_weights(s, 1);
  CHECK((w.at("model.embed_tokens.weight").sizes().vec() == std::vector<int64_t>{20, 8}));
  CHECK((w.at("model.layers.1.self_attn.q_proj.weight").sizes().vec() == std::vector<int64_t>{8, 8}));
  CHECK((w.at("model.layers.1.mlp.down_proj.weight").sizes().vec() == std::vector<int64_t>{8, 12}));
  CHECK(w.count("model.norm.weight") == 1);
  CHECK(w.count("lm_head.weight") == 1);
  CHECK(w.count("score.weight") == 1);
  CHECK(weight_problems(s, w).empty());
  Weights broken = w;
  broken.erase("model.norm.weight");
  broken["extra"] = torch::zeros({1});
  broken["score.weight"] = torch::zeros({4, 8});
  CHECK(weight_problems(s, broken).size() == 3);
}

TEST_CASE("model: the same seed gives bit-identical weights", "[model]") {
  const ModelSpec s = tiny_llama();
  const Weights a = init_weights(s, 5), b = init_weights(s, 5), c = init_weights(s, 6);
  for (const auto& [name, t] : a) CHECK(torch::equal(t, b.at(name)));
  CHECK_FALSE(torch::equal(a.at("score.weight"), c.at("score.weight")));
}

TEST_CASE("model: padding after the last token does not change a llama's logits", "[model]") {
  const ModelSpec s = tiny_llama();
  const Weights w = init_weights(s, 2);
  ModelInput in;
  in.tokens = torch::tensor({3, 4, 5, 0, 0}, torch::kInt64).unsqueeze(0);
  in.lengths = torch::tensor({3}, torch::kInt64);
  ModelInput other = in;
  other.tokens = torch::tensor({3, 4, 5, 17, 9}, torch::kInt64).unsqueeze(0);
  CHECK(torch::allclose(forward(s, w, in).logits, forward(s, w, other).logits));
}

TEST_CASE("model: vit and mlp run on their inputs", "[model]") {
  const ModelSpec v = test::tiny_vit();
  ModelInput in;
  in.images = torch::rand({3, 28, 28});
  CHECK((forward(v, init_weights(v, 1), in).logits.sizes().vec() == std::vector<int64_t>{3, 10}));

  const ModelSpec m = test::tiny_mlp(5, 2);
  ModelInput f;
  f.features = torch::rand({4, 5});
  CHECK((forward(m, init_weights(m, 1), f).logits.sizes().vec() == std::vector<int64_t>{4, 2}));
}

TEST_CASE("model: inputs are built from stored records and checked against the spec", "[model]") {
  const ModelSpec s = tiny_llama();
  RecordBatch b;
  b.payload_kind = PayloadKind::kText;
  b.payload_type = PayloadType::kU8;
  for (const std::string& text : {std::string("\x01\x02\x03", 3), std::string("\x04\x05\x06\x07\x08\x09\x0a", 7), std::string()}) {
    b.ids.push("r" + std::to_string(b.size()));
    b.owners.push("o");
    b.payloads.push(text);
    b.labels.push_back(1);
    b.splits.push_back(Split::kTrain);
  }
  const LabeledInput li = make_input(s, b, {0, 1, 2});
  CHECK(li.input.lengths[0].item<int64_t>() == 3);
  CHECK(li.input.lengths[1].item<int64_t>() == 5);  // truncated to max_seq_len
  CHECK(li.input.lengths[2].item<int64_t>() == 1);  // an empty text still has one token
  CHECK(li.input.tokens[1][4].item<int64_t>() == 8);
  b.payloads.push("\x30");  // token 48 is outside a 20-token vocabulary
  b.ids.push("big");
  b.owners.push("o");
  b.labels.push_back(0);
  b.splits.push_back(Split::kTrain);
  CHECK_THROWS_WITH(make_input(s, b, {3}), Catch::Contains("big") && Catch::Contains("vocabulary"));
}

TEST_CASE("model: grouped-query attention equals full attention with repeated key/value heads",
          "[model]") {
  ModelSpec gqa = tiny_llama();
  gqa.num_heads = 4;
  gqa.num_kv_heads = 2;
  const Weights w = init_weights(gqa, 4);
  ModelSpec full = gqa;
  full.num_kv_heads = 4;
  Weights wf = w;
  const int64_t hd = gqa.head_dim();
  for (int layer = 0; layer < gqa.num_layers; ++layer) {
    for (const char* proj : {"k_proj", "v_proj"}) {
      const std::string name = "model.layers." + std::to_string(layer) + ".self_attn." + proj + ".weight";
      // Each key/value head serves two consecutive query heads.
      wf[name] = w.at(name).view({2, hd, gqa.hidden_size}).repeat_interleave(2, 0).reshape({4 * hd, gqa.hidden_size});
    }
  }
  CHECK(weight_problems(full, wf).empty());
  ModelInput in;
  in.tokens = torch::tensor({3, 4, 5, 6, 7}, torch::kInt64).unsqueeze(0);
  in.lengths = torch::tensor({5}, torch::kInt64);
  CHECK(torch::allclose(forward(gqa, w, in).logits, forward(full, wf, in).logits, 1e-5, 1e-6));
}
