#include "src/data/wordpiece.h"

#include <utf8proc.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/common/json_input.h"

namespace lethe {

namespace {

// Far above any real vocabulary (BERT: 30,522; multilingual models: a few 100,000), low enough
// that a corrupt file cannot make the tokenizer allocate gigabytes.
constexpr int64_t kMaxVocab = 4'000'000;
constexpr uintmax_t kMaxFileBytes = 64u << 20;  // real BERT tokenizer.json files are under 20 MB

// Code points of UTF-8 text; a byte that starts no valid sequence becomes U+FFFD, as Python's
// decode(errors="replace") does.
std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      out.push_back(0xFFFD);
      ++p, --left;
    } else {
      out.push_back(static_cast<char32_t>(cp));
      p += n, left -= n;
    }
  }
  return out;
}

std::string encode_utf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  utf8proc_uint8_t buf[4];
  for (const char32_t cp : cps) {
    const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

utf8proc_category_t category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

// Rust's char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// BertNormalizer's is_control: unicode_categories' is_other (control, format and private use;
// not unassigned code points, which HF keeps), except tab and line breaks.
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;
    p += n, left -= n;
  }
  return true;
}

// BertPreTokenizer's is_bert_punc: ASCII punctuation or any Unicode punctuation category.
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  const auto cat = category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

// The CJK ideograph blocks BERT puts spaces around (the "Chinese characters" of its normalizer).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BertNormalizer, in its order: clean, CJK spacing, accents (NFD, then no nonspacing marks),
// lower case.
std::u32string normalize(std::u32string_view text, const WordPieceOptions& o) {
  std::u32string a;
  a.reserve(text.size());
  for (const char32_t c : text) {
    if (o.clean_text) {
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      if (is_whitespace(c)) {
        a.push_back(' ');
        continue;
      }
    }
    if (o.handle_chinese_chars && is_chinese_char(c)) {
      a.append({U' ', c, U' '});
    } else {
      a.push_back(c);
    }
  }
  if (o.strip_accents.value_or(o.lowercase)) {
    std::u32string b;
    b.reserve(a.size());
    utf8proc_int32_t parts[32];
    for (const char32_t c : a) {
      int boundclass = 0;
      const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), parts, 32,
                                                         UTF8PROC_DECOMPOSE, &boundclass);
      if (n <= 0 || n > 32) {
        b.push_back(c);
        continue;
      }
      for (utf8proc_ssize_t i = 0; i < n; ++i) {
        if (category(static_cast<char32_t>(parts[i])) != UTF8PROC_CATEGORY_MN) b.push_back(static_cast<char32_t>(parts[i]));
      }
    }
    a.swap(b);
  }
  if (o.lowercase) {
    std::u32string b;
    b.reserve(a.size());
    for (const char32_t c : a) {
      if (c == 0x130) {  // İ: Rust's full lower case mapping gives i + combining dot above
        b.append({U'i', char32_t{0x307}});
      } else {
        b.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
      }
    }
    a.swap(b);
  }
  return a;
}

const nlohmann::json& field(const nlohmann::json& j, const char* name, const std::string& where) {
  if (!j.is_object() || !j.contains(name)) fail(ErrorKind::kInput, "{}: no field '{}'", where, name);
  return j.at(name);
}

}  // namespace

WordPiece::WordPiece(std::vector<std::string> vocab, WordPieceOptions options, const std::string& where)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  if (vocab_.empty()) fail(ErrorKind::kInput, "{}: the vocabulary is empty", where);
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    if (!ids_.emplace(vocab_[i], static_cast<int64_t>(i)).second) {
      fail(ErrorKind::kInput, "{}: token '{}' appears twice in the vocabulary", where, vocab_[i]);
    }
  }
  auto id_of = [&](const std::string& token, const char* role) {
    const auto it = ids_.find(token);
    if (it == ids_.end()) fail(ErrorKind::kInput, "{}: the {} token '{}' is not in the vocabulary", where, role, token);
    return it->second;
  };
  unk_id_ = id_of(options_.unk_token, "unknown");
  cls_id_ = id_of(options_.cls_token, "[CLS]");
  sep_id_ = id_of(options_.sep_token, "[SEP]");
  pad_id_ = id_of(options_.pad_token, "padding");
  if (options_.max_input_chars_per_word < 1) {
    fail(ErrorKind::kInput, "{}: max_input_chars_per_word must be at least 1", where);
  }
  for (const std::string& s : options_.added_tokens) {
    if (s.empty()) fail(ErrorKind::kInput, "{}: an added token is empty", where);
    if (!ids_.count(s)) fail(ErrorKind::kInput, "{}: the added token '{}' is not in the vocabulary", where, s);
    if (std::find(specials_.begin(), specials_.end(), s) == specials_.end()) specials_.push_back(s);
  }
  std::sort(specials_.begin(), specials_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size() || (a.size() == b.size() && a < b); });
}

WordPiece WordPiece::from_model_dir(const fs::path& dir) {
  WordPieceOptions o;
  std::vector<std::string> vocab;
  const fs::path tj = dir / "tokenizer.json";
  if (fs::exists(tj)) {
    const std::string where = tj.string();
    const nlohmann::json j = read_json_input(tj, kMaxFileBytes);
    const nlohmann::json& model = field(j, "model", where);
    if (json_string(model, "type", where + ": model", "") != "WordPiece") {
      fail(ErrorKind::kInput, "{}: model.type is '{}', but only WordPiece tokenizers (BERT's) are supported", where,
           json_string(model, "type", where, ""));
    }
    const nlohmann::json& v = field(model, "vocab", where + ": model");
    if (!v.is_object()) fail(ErrorKind::kInput, "{}: model.vocab must map tokens to IDs", where);
    if (static_cast<int64_t>(v.size()) > kMaxVocab) {
      fail(ErrorKind::kInput, "{}: model.vocab has {} tokens, more than {}", where, v.size(), kMaxVocab);
    }
    vocab.assign(v.size(), std::string());
    std::vector<bool> seen(v.size(), false);
    for (const auto& [token, id] : v.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= static_cast<int64_t>(v.size()) ||
          seen[id.get<size_t>()]) {
        fail(ErrorKind::kInput, "{}: model.vocab['{}'] = {}: IDs must number the {} tokens 0..{} once each", where,
             token, id.dump(), v.size(), v.size() - 1);
      }
      seen[id.get<size_t>()] = true;
      vocab[id.get<size_t>()] = token;
    }
    o.unk_token = json_string(model, "unk_token", where + ": model", o.unk_token);
    o.continuing_subword_prefix = json_string(model, "continuing_subword_prefix", where + ": model", "##");
    if (model.contains("max_input_chars_per_word")) {
      const auto& m = model.at("max_input_chars_per_word");
      if (!m.is_number_integer() || m.get<int64_t>() < 1) {
        fail(ErrorKind::kInput, "{}: model.max_input_chars_per_word must be a positive integer", where);
      }
      o.max_input_chars_per_word = m.get<int64_t>();
    }
    const nlohmann::json norm = j.value("normalizer", nlohmann::json());
    if (norm.is_null()) {
      o.clean_text = o.handle_chinese_chars = o.lowercase = false;
      o.strip_accents = false;
    } else {
      if (json_string(norm, "type", where + ": normalizer", "") != "BertNormalizer") {
        fail(ErrorKind::kInput, "{}: normalizer.type is '{}'; only BertNormalizer is supported", where,
             json_string(norm, "type", where, ""));
      }
      o.clean_text = json_bool(norm, "clean_text", where + ": normalizer", true);
      o.handle_chinese_chars = json_bool(norm, "handle_chinese_chars", where + ": normalizer", true);
      o.strip_accents = json_optional_bool(norm, "strip_accents", where + ": normalizer");
      o.lowercase = json_bool(norm, "lowercase", where + ": normalizer", true);
    }
    const nlohmann::json pre = j.value("pre_tokenizer", nlohmann::json());
    if (json_string(pre, "type", where + ": pre_tokenizer", "") != "BertPreTokenizer") {
      fail(ErrorKind::kInput, "{}: pre_tokenizer.type must be BertPreTokenizer", where);
    }
    // [CLS] and [SEP] from the post-processor: BertProcessing names them, TemplateProcessing's
    // single template must be [CLS] $A [SEP].
    const nlohmann::json post = j.value("post_processor", nlohmann::json());
    std::map<std::string, nlohmann::json> post_ids;  // the IDs the post-processor itself inserts
    const std::string post_type = json_string(post, "type", where + ": post_processor", "");
    if (post_type == "BertProcessing") {
      const auto& cls = field(post, "cls", where + ": post_processor");
      const auto& sep = field(post, "sep", where + ": post_processor");
      if (!cls.is_array() || cls.empty() || !cls[0].is_string() || !sep.is_array() || sep.empty() || !sep[0].is_string()) {
        fail(ErrorKind::kInput, "{}: post_processor.cls and .sep must be [token, id]", where);
      }
      o.cls_token = cls[0].get<std::string>();
      o.sep_token = sep[0].get<std::string>();
      for (const auto* t : {&cls, &sep}) {
        if (t->size() > 1) post_ids[(*t)[0].get<std::string>()] = (*t)[1];
      }
    } else if (post_type == "TemplateProcessing") {
      const auto& single = field(post, "single", where + ": post_processor");
      auto special = [&](size_t i) -> std::string {
        if (!single.is_array() || single.size() != 3 || !single[i].contains("SpecialToken")) return "";
        return json_string(single[i]["SpecialToken"], "id", where + ": post_processor.single", "");
      };
      if (special(0).empty() || special(2).empty() || !single[1].contains("Sequence")) {
        fail(ErrorKind::kInput, "{}: post_processor.single must be [CLS] $A [SEP]", where);
      }
      o.cls_token = special(0);
      o.sep_token = special(2);
      for (size_t i : {size_t{0}, size_t{1}, size_t{2}}) {  // Lethe feeds one segment, token type 0
        const auto& part = single[i].contains("SpecialToken") ? single[i]["SpecialToken"] : single[i]["Sequence"];
        if (part.value("type_id", 0) != 0) fail(ErrorKind::kInput, "{}: post_processor.single uses token type {}", where, part["type_id"].dump());
      }
      const nlohmann::json specials = post.value("special_tokens", nlohmann::json::object());
      for (const std::string& t : {o.cls_token, o.sep_token}) {
        if (specials.contains(t) && specials[t].contains("ids") && specials[t]["ids"].is_array() && specials[t]["ids"].size() == 1) {
          post_ids[t] = specials[t]["ids"][0];
        }
      }
    } else {
      fail(ErrorKind::kInput, "{}: post_processor.type is '{}'; expected BertProcessing or TemplateProcessing",
           where, post_type);
    }
    // Added tokens that skip normalisation are matched in the raw text ([CLS], [MASK], ...).
    const nlohmann::json added = j.value("added_tokens", nlohmann::json::array());
    if (!added.is_array()) fail(ErrorKind::kInput, "{}: added_tokens must be a list", where);
    for (const auto& a : added) {
      const std::string content = json_string(a, "content", where + ": added_tokens", "");
      // Only the kind BERT checkpoints have: whole tokens matched in the raw text. Others would
      // be matched differently from Hugging Face, so they are refused rather than approximated.
      if (json_bool(a, "normalized", where + ": added_tokens", true) || json_bool(a, "lstrip", where, false) ||
          json_bool(a, "rstrip", where, false) || json_bool(a, "single_word", where, false)) {
        fail(ErrorKind::kInput, "{}: added token '{}' is normalized, stripped or single-word; only plain special "
             "tokens are supported", where, content);
      }
      o.added_tokens.push_back(content);
    }
    const nlohmann::json padding = j.value("padding", nlohmann::json());
    o.pad_token = json_string(padding, "pad_token", where + ": padding", "[PAD]");
    for (const auto& [token, id] : post_ids) {
      const auto at = std::find(vocab.begin(), vocab.end(), token);
      if (!id.is_number_integer() || at == vocab.end() || id.get<int64_t>() != at - vocab.begin()) {
        fail(ErrorKind::kInput, "{}: the post-processor inserts '{}' as ID {}, which is not its ID in model.vocab", where,
             token, id.dump());
      }
    }
    return WordPiece(std::move(vocab), std::move(o), where);
  }

  const fs::path vt = dir / "vocab.txt";
  if (!fs::exists(vt)) {
    fail(ErrorKind::kInput, "{}: neither tokenizer.json nor vocab.txt, so the model's tokenizer is unknown",
         dir.string());
  }
  const std::string text = read_input_file(vt, kMaxFileBytes);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!valid_utf8(line)) fail(ErrorKind::kInput, "{}: line {} is not valid UTF-8", vt.string(), vocab.size() + 1);
    vocab.push_back(std::move(line));
    if (static_cast<int64_t>(vocab.size()) > kMaxVocab) {
      fail(ErrorKind::kInput, "{}: more than {} tokens", vt.string(), kMaxVocab);
    }
    start = end + 1;
  }
  const fs::path tc = dir / "tokenizer_config.json";
  if (fs::exists(tc)) {
    const std::string where = tc.string();
    const nlohmann::json j = read_json_input(tc, kMaxFileBytes);
    if (!j.is_object()) fail(ErrorKind::kInput, "{}: expected a JSON object", where);
    o.lowercase = json_bool(j, "do_lower_case", where, true);
    o.strip_accents = json_optional_bool(j, "strip_accents", where);
    o.handle_chinese_chars = json_bool(j, "tokenize_chinese_chars", where, true);
    o.unk_token = json_string(j, "unk_token", where, o.unk_token);
    o.cls_token = json_string(j, "cls_token", where, o.cls_token);
    o.sep_token = json_string(j, "sep_token", where, o.sep_token);
    o.pad_token = json_string(j, "pad_token", where, o.pad_token);
    o.added_tokens = {o.unk_token, o.sep_token, o.pad_token, o.cls_token, json_string(j, "mask_token", where, "[MASK]")};
  } else {
    o.added_tokens = {o.unk_token, o.sep_token, o.pad_token, o.cls_token, "[MASK]"};
  }
  // BertTokenizer keeps only the special tokens its vocabulary has.
  std::erase_if(o.added_tokens, [&](const std::string& t) { return std::find(vocab.begin(), vocab.end(), t) == vocab.end(); });
  return WordPiece(std::move(vocab), std::move(o), vt.string());
}

nlohmann::json WordPiece::to_json() const {
  nlohmann::json j = {{"type", "WordPiece"},
                      {"vocab", vocab_},
                      {"clean_text", options_.clean_text},
                      {"handle_chinese_chars", options_.handle_chinese_chars},
                      {"lowercase", options_.lowercase},
                      {"unk_token", options_.unk_token},
                      {"cls_token", options_.cls_token},
                      {"sep_token", options_.sep_token},
                      {"pad_token", options_.pad_token},
                      {"continuing_subword_prefix", options_.continuing_subword_prefix},
                      {"max_input_chars_per_word", options_.max_input_chars_per_word},
                      {"added_tokens", options_.added_tokens}};
  j["strip_accents"] = options_.strip_accents ? nlohmann::json(*options_.strip_accents) : nlohmann::json();
  return j;
}

WordPiece WordPiece::from_json(const nlohmann::json& j, const std::string& where) {
  try {
    if (j.at("type") != "WordPiece") fail(ErrorKind::kIntegrity, "{}: not a WordPiece tokenizer", where);
    WordPieceOptions o;
    o.clean_text = j.at("clean_text").get<bool>();
    o.handle_chinese_chars = j.at("handle_chinese_chars").get<bool>();
    o.lowercase = j.at("lowercase").get<bool>();
    if (!j.at("strip_accents").is_null()) o.strip_accents = j.at("strip_accents").get<bool>();
    o.unk_token = j.at("unk_token").get<std::string>();
    o.cls_token = j.at("cls_token").get<std::string>();
    o.sep_token = j.at("sep_token").get<std::string>();
    o.pad_token = j.at("pad_token").get<std::string>();
    o.continuing_subword_prefix = j.at("continuing_subword_prefix").get<std::string>();
    o.max_input_chars_per_word = j.at("max_input_chars_per_word").get<int64_t>();
    o.added_tokens = j.at("added_tokens").get<std::vector<std::string>>();
    return WordPiece(j.at("vocab").get<std::vector<std::string>>(), std::move(o), where);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kIntegrity, "{}: malformed tokenizer: {}", where, e.what());
  } catch (const Error& e) {
    throw Error(ErrorKind::kIntegrity, e.what());
  }
}

void WordPiece::wordpiece(const std::u32string& word, std::vector<std::string>& out) const {
  if (static_cast<int64_t>(word.size()) > options_.max_input_chars_per_word) {
    out.push_back(options_.unk_token);
    return;
  }
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    bool found = false;
    while (start < end) {
      std::string piece = encode_utf8(std::u32string_view(word).substr(start, end - start));
      if (start > 0) piece = options_.continuing_subword_prefix + piece;
      if (ids_.count(piece)) {
        pieces.push_back(std::move(piece));
        found = true;
        break;
      }
      --end;
    }
    if (!found) {  // one unmatchable stretch makes the whole word unknown, as in BERT
      out.push_back(options_.unk_token);
      return;
    }
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

void WordPiece::tokenize_plain(std::string_view text, std::vector<std::string>& out) const {
  const std::u32string normal = normalize(decode_utf8(text), options_);
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) wordpiece(word, out);
    word.clear();
  };
  for (const char32_t c : normal) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      wordpiece(std::u32string(1, c), out);
    } else {
      word.push_back(c);
    }
  }
  flush();
}

std::vector<std::string> WordPiece::tokenize(std::string_view text) const {
  // Special tokens written in the text are matched first, leftmost and longest, and kept whole.
  std::vector<std::string> out;
  size_t plain_start = 0, i = 0;
  while (i < text.size()) {
    const std::string* hit = nullptr;
    for (const std::string& s : specials_) {
      if (text.compare(i, s.size(), s) == 0) {
        hit = &s;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    tokenize_plain(text.substr(plain_start, i - plain_start), out);
    out.push_back(*hit);
    i += hit->size();
    plain_start = i;
  }
  tokenize_plain(text.substr(plain_start), out);
  return out;
}

std::vector<int64_t> WordPiece::encode(std::string_view text, int64_t max_length) const {
  if (max_length < 2) fail(ErrorKind::kInternal, "a WordPiece encoding needs room for [CLS] and [SEP]");
  const std::vector<std::string> pieces = tokenize(text);
  const size_t kept = std::min(pieces.size(), static_cast<size_t>(max_length - 2));
  std::vector<int64_t> ids;
  ids.reserve(kept + 2);
  ids.push_back(cls_id_);
  for (size_t i = 0; i < kept; ++i) ids.push_back(ids_.at(pieces[i]));
  ids.push_back(sep_id_);
  return ids;
}

}  // namespace lethe
