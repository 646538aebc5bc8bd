#include "src/models/inputs.h"

#include <torch/torch.h>

#include <cstring>

#include "src/common/error.h"
#include "src/data/wordpiece.h"

namespace lethe {

namespace {

// Element `i` of a little-endian payload of `type`.
int64_t token_at(std::string_view bytes, PayloadType type, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  switch (type) {
    case PayloadType::kU8: return p[i];
    case PayloadType::kU16: return p[2 * i] | (p[2 * i + 1] << 8);
    case PayloadType::kU32:
      return static_cast<int64_t>(uint32_t{p[4 * i]} | uint32_t{p[4 * i + 1]} << 8 |
                                  uint32_t{p[4 * i + 2]} << 16 | uint32_t{p[4 * i + 3]} << 24);
    default: fail(ErrorKind::kInternal, "text payloads are not {}", payload_type_name(type));
  }
}

void text_input(const ModelSpec& spec, const RecordBatch& batch, const std::vector<uint32_t>& rows,
                ModelInput& in) {
  const size_t width = payload_type_size(batch.payload_type);
  const int64_t t = spec.max_seq_len;
  in.tokens = torch::zeros({static_cast<int64_t>(rows.size()), t}, torch::kInt64);
  in.lengths = torch::ones({static_cast<int64_t>(rows.size())}, torch::kInt64);
  auto tok = in.tokens.accessor<int64_t, 2>();
  auto len = in.lengths.accessor<int64_t, 1>();
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string_view payload = batch.payloads.at(rows[r]);
    // Texts longer than the context are truncated; an empty text is one token 0, so that
    // last-token pooling always has a token to pool.
    const int64_t n = std::min<int64_t>(t, static_cast<int64_t>(payload.size() / width));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = token_at(payload, batch.payload_type, static_cast<size_t>(i));
      if (id >= spec.vocab_size) {
        fail(ErrorKind::kIntegrity, "record '{}': token {} is outside the model's vocabulary ({})",
             batch.ids.at(rows[r]), id, spec.vocab_size);
      }
      tok[static_cast<int64_t>(r)][i] = id;
    }
    len[static_cast<int64_t>(r)] = std::max<int64_t>(1, n);
  }
}

// bert: the stored UTF-8 text through the checkpoint's own WordPiece tokenizer, padded to the
// batch's longest encoding (not to max_seq_len: attention is quadratic in the width).
void wordpiece_input(const ModelSpec& spec, const RecordBatch& batch, const std::vector<uint32_t>& rows,
                     ModelInput& in) {
  if (!spec.tokenizer) fail(ErrorKind::kInternal, "a bert model without its tokenizer");
  if (batch.payload_type != PayloadType::kU8) {
    fail(ErrorKind::kIntegrity, "a bert base reads texts as stored bytes, but these records hold {} token IDs "
         "(data.tokenizer = \"sentencepiece\")", payload_type_name(batch.payload_type));
  }
  std::vector<std::vector<int64_t>> ids;
  ids.reserve(rows.size());
  int64_t width = 2;
  for (const uint32_t row : rows) {
    ids.push_back(spec.tokenizer->encode(batch.payloads.at(row), spec.max_seq_len));
    width = std::max<int64_t>(width, static_cast<int64_t>(ids.back().size()));
  }
  in.tokens = torch::full({static_cast<int64_t>(rows.size()), width}, spec.tokenizer->pad_id(), torch::kInt64);
  in.lengths = torch::empty({static_cast<int64_t>(rows.size())}, torch::kInt64);
  auto tok = in.tokens.accessor<int64_t, 2>();
  auto len = in.lengths.accessor<int64_t, 1>();
  for (size_t r = 0; r < ids.size(); ++r) {
    for (size_t i = 0; i < ids[r].size(); ++i) tok[static_cast<int64_t>(r)][static_cast<int64_t>(i)] = ids[r][i];
    len[static_cast<int64_t>(r)] = static_cast<int64_t>(ids[r].size());
  }
}

void image_input(const ModelSpec& spec, const RecordBatch& batch, const std::vector<uint32_t>& rows,
                 ModelInput& in) {
  const int64_t side = spec.image_size;
  at::Tensor pixels = torch::empty({static_cast<int64_t>(rows.size()), side, side}, torch::kUInt8);
  auto* out = pixels.data_ptr<uint8_t>();
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string_view payload = batch.payloads.at(rows[r]);
    if (static_cast<int64_t>(payload.size()) != side * side || batch.payload_type != PayloadType::kU8) {
      fail(ErrorKind::kIntegrity, "record '{}': expected a {}x{} 8-bit image, got {} bytes",
           batch.ids.at(rows[r]), side, side, payload.size());
    }
    std::memcpy(out + r * static_cast<size_t>(side * side), payload.data(), payload.size());
  }
  in.images = pixels.to(torch::kFloat32) / 255.0;
}

void feature_input(const ModelSpec& spec, const RecordBatch& batch, const std::vector<uint32_t>& rows,
                   ModelInput& in) {
  const int64_t f = spec.in_features;
  in.features = torch::empty({static_cast<int64_t>(rows.size()), f}, torch::kFloat32);
  auto* out = in.features.data_ptr<float>();
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string_view payload = batch.payloads.at(rows[r]);
    if (static_cast<int64_t>(payload.size()) != f * 4 || batch.payload_type != PayloadType::kF32) {
      fail(ErrorKind::kIntegrity, "record '{}': expected {} float32 features, got {} bytes",
           batch.ids.at(rows[r]), f, payload.size());
    }
    std::memcpy(out + r * static_cast<size_t>(f), payload.data(), payload.size());
  }
}

}  // namespace

LabeledInput make_input(const ModelSpec& spec, const RecordBatch& batch,
                        const std::vector<uint32_t>& rows) {
  LabeledInput li;
  if (spec.arch == "llama") text_input(spec, batch, rows, li.input);
  else if (spec.arch == "bert") wordpiece_input(spec, batch, rows, li.input);
  else if (spec.arch == "vit") image_input(spec, batch, rows, li.input);
  else feature_input(spec, batch, rows, li.input);
  li.labels = torch::empty({static_cast<int64_t>(rows.size())}, torch::kInt64);
  auto lab = li.labels.accessor<int64_t, 1>();
  for (size_t r = 0; r < rows.size(); ++r) {
    const int32_t label = batch.labels[rows[r]];
    if (label < 0 || label >= spec.num_labels) {
      fail(ErrorKind::kIntegrity, "record '{}': label {} outside the model's {} labels",
           batch.ids.at(rows[r]), label, spec.num_labels);
    }
    lab[static_cast<int64_t>(r)] = label;
  }
  return li;
}

LabeledInput on_device(LabeledInput li, c10::Device device) {
  if (device.is_cpu()) return li;
  const auto move = [&](at::Tensor& t) {
    if (t.defined()) t = t.to(device);
  };
  move(li.input.tokens);
  move(li.input.lengths);
  move(li.input.images);
  move(li.input.features);
  move(li.labels);
  return li;
}

}  // namespace lethe
