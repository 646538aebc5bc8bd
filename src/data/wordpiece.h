// BERT's WordPiece tokenizer, as Hugging Face `tokenizers` runs it from a model's own
// tokenizer.json (or vocab.txt + tokenizer_config.json): special tokens matched in the raw
// text, the BertNormalizer (clean text, space around CJK characters, accent stripping, lower
// case), the BertPreTokenizer (split on white space, every punctuation character alone),
// greedy longest-match WordPiece with the "##" continuation prefix, and [CLS] text [SEP] with
// truncation. The vocabulary comes with a public pretrained model and never from a record, so
// no deletion can touch it (unlike the SentencePiece model of src/data/tokenizer.h).
//
// Unicode properties (categories, NFD, lower case) come from utf8proc; Hugging Face's come from
// the Rust crates unicode_categories and unicode-normalization-alignments. The tables agree
// except for characters assigned after the older of them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lethe {

struct WordPieceOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // unset: follows `lowercase`, as in BertNormalizer
  bool lowercase = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string continuing_subword_prefix = "##";
  int64_t max_input_chars_per_word = 100;
  // Tokens matched whole in the raw text before normalisation (the special tokens).
  std::vector<std::string> added_tokens;
};

class WordPiece {
 public:
  // The tokenizer of a Hugging Face model directory: tokenizer.json when present, else
  // vocab.txt with tokenizer_config.json's options. ErrorKind::kInput naming the file and field
  // for anything missing, malformed or beyond sane sizes (read before any large allocation).
  static WordPiece from_model_dir(const std::filesystem::path& dir);
  // The stored form (to_json), e.g. from a base checkpoint's metadata; kIntegrity naming `where`.
  static WordPiece from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;

  // Token IDs of `text` (UTF-8; invalid bytes count as U+FFFD): [CLS] pieces [SEP], the pieces
  // cut to max_length - 2 as Hugging Face's truncation=True, max_length=max_length does.
  std::vector<int64_t> encode(std::string_view text, int64_t max_length) const;
  // The pieces of `text` before IDs and special tokens (tests and error messages).
  std::vector<std::string> tokenize(std::string_view text) const;

  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  int64_t pad_id() const { return pad_id_; }
  const WordPieceOptions& options() const { return options_; }
  const std::vector<std::string>& vocab() const { return vocab_; }

 private:
  WordPiece(std::vector<std::string> vocab, WordPieceOptions options, const std::string& where);
  // Appends the pieces of one stretch of text that holds no special token.
  void tokenize_plain(std::string_view text, std::vector<std::string>& out) const;
  void wordpiece(const std::u32string& word, std::vector<std::string>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  std::vector<std::string> specials_;  // matched in the raw text before normalisation, longest first
  int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace lethe
