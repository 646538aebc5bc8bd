// liblethe_spm.so: SentencePiece behind a C interface (see spm_plugin_api.h for why).
#include "src/data/spm/spm_plugin_api.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// Feeds the texts to the trainer one at a time, without a temporary file.
class TextIterator : public sentencepiece::SentenceIterator {
 public:
  TextIterator(const char* bytes, const uint64_t* offsets, size_t n)
      : bytes_(bytes), offsets_(offsets), n_(n) {
    load();
  }
  bool done() const override { return next_ > n_; }
  void Next() override { load(); }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void load() {
    if (next_ < n_) value_.assign(bytes_ + offsets_[next_], offsets_[next_ + 1] - offsets_[next_]);
    ++next_;
  }
  const char* bytes_;
  const uint64_t* offsets_;
  size_t n_;
  size_t next_ = 0;
  std::string value_;
};

int report(lethe_spm_bytes_sink error, void* ctx, const std::string& message) {
  error(ctx, message.data(), message.size());
  return 1;
}

// Loads a serialized model; on failure reports and returns false.
bool load(sentencepiece::SentencePieceProcessor& sp, const char* model, size_t size,
          lethe_spm_bytes_sink error, void* ctx) {
  const auto status = sp.LoadFromSerializedProto(std::string_view(model, size));
  if (status.ok()) return true;
  report(error, ctx, "invalid SentencePiece model: " + status.ToString());
  return false;
}

}  // namespace

extern "C" int lethe_spm_train(const char* bytes, const uint64_t* offsets, size_t n,
                               int vocab_size, lethe_spm_bytes_sink model,
                               lethe_spm_bytes_sink error, void* ctx) {
  try {
    TextIterator it(bytes, offsets, n);
    // Single-threaded and unshuffled: the same texts always give the same model.
    const std::unordered_map<std::string, std::string> args = {
        {"model_type", "unigram"},
        {"vocab_size", std::to_string(vocab_size)},
        {"character_coverage", "1.0"},
        {"byte_fallback", "true"},  // any byte sequence, even invalid UTF-8, stays encodable
        {"shuffle_input_sentence", "false"},
        {"input_sentence_size", "0"},
        {"num_threads", "1"},
        {"hard_vocab_limit", "false"},  // small public splits may support fewer pieces
        {"minloglevel", "2"},
    };
    std::string serialized;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &serialized);
    if (!status.ok()) return report(error, ctx, status.ToString());
    model(ctx, serialized.data(), serialized.size());
    return 0;
  } catch (const std::exception& e) {
    return report(error, ctx, e.what());
  }
}

extern "C" int lethe_spm_piece_size(const char* model, size_t model_size, int32_t* piece_size,
                                    lethe_spm_bytes_sink error, void* ctx) {
  try {
    sentencepiece::SentencePieceProcessor sp;
    if (!load(sp, model, model_size, error, ctx)) return 1;
    *piece_size = sp.GetPieceSize();
    return 0;
  } catch (const std::exception& e) {
    return report(error, ctx, e.what());
  }
}

extern "C" int lethe_spm_encode(const char* model, size_t model_size, const char* bytes,
                                const uint64_t* offsets, size_t n, lethe_spm_ids_sink ids,
                                lethe_spm_bytes_sink error, void* ctx) {
  try {
    sentencepiece::SentencePieceProcessor sp;
    if (!load(sp, model, model_size, error, ctx)) return 1;
    std::vector<int> pieces;
    std::vector<int32_t> out;
    for (size_t i = 0; i < n; ++i) {
      const auto status =
          sp.Encode(std::string_view(bytes + offsets[i], offsets[i + 1] - offsets[i]), &pieces);
      if (!status.ok()) {
        return report(error, ctx, "text " + std::to_string(i) + ": " + status.ToString());
      }
      out.assign(pieces.begin(), pieces.end());
      ids(ctx, out.data(), out.size());
    }
    return 0;
  } catch (const std::exception& e) {
    return report(error, ctx, e.what());
  }
}

extern "C" int lethe_spm_decode(const char* model, size_t model_size, const int32_t* ids,
                                const uint64_t* offsets, size_t n, lethe_spm_bytes_sink text,
                                lethe_spm_bytes_sink error, void* ctx) {
  try {
    sentencepiece::SentencePieceProcessor sp;
    if (!load(sp, model, model_size, error, ctx)) return 1;
    const int pieces = sp.GetPieceSize();
    std::vector<int> one;
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      one.assign(ids + offsets[i], ids + offsets[i + 1]);
      for (int id : one) {
        if (id < 0 || id >= pieces) {
          return report(error, ctx, "text " + std::to_string(i) + ": token " + std::to_string(id) +
                                        " is not in the model's " + std::to_string(pieces) + " pieces");
        }
      }
      const auto status = sp.Decode(one, &out);
      if (!status.ok()) return report(error, ctx, "text " + std::to_string(i) + ": " + status.ToString());
      text(ctx, out.data(), out.size());
    }
    return 0;
  } catch (const std::exception& e) {
    return report(error, ctx, e.what());
  }
}
