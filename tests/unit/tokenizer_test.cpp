// The SentencePiece tokenizer: trained on the given (public) rows only, deterministic.
#include <catch2/catch.hpp>

#include "src/common/error.h"
#include "src/data/tokenizer.h"
#include "tests/support/skip.h"

using namespace lethe;

namespace {

RecordBatch texts() {
  const char* words[] = {"forget", "the", "record", "owner", "slice", "shard", "model", "data",
                         "delete", "train", "exact", "proof"};
  RecordBatch b;
  for (int i = 0; i < 400; ++i) {
    std::string t;
    for (int k = 0; k < 8; ++k) t += std::string(words[(i * 7 + k * 5) % 12]) + " ";
    b.ids.push("t" + std::to_string(i));
    b.owners.push("o");
    b.payloads.push(t);
    b.labels.push_back(0);
    b.splits.push_back(Split::kPublic);
  }
  return b;
}

std::vector<uint32_t> all_rows(const RecordBatch& b) {
  std::vector<uint32_t> rows(b.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
  return rows;
}

// The sanitizer runtime cannot load the SentencePiece plugin (see tokenizer.cpp); there the
// tokenizer must refuse clearly instead, and the tests that need it are skipped.
bool plugin_unavailable_in_this_build() {
#if defined(__SANITIZE_ADDRESS__)
  const RecordBatch b = texts();
  CHECK_THROWS_WITH(train_sentencepiece(b, all_rows(b), 300), Catch::Contains("sanitizer"));
  return true;
#else
  return false;
#endif
}

}  // namespace

TEST_CASE("tokenizer: sentencepiece training is deterministic", "[tokenizer]") {
  if (plugin_unavailable_in_this_build()) LETHE_SKIP("no SentencePiece plugin in sanitizer builds");
  const RecordBatch b = texts();
  const std::string a = train_sentencepiece(b, all_rows(b), 300);
  const std::string again = train_sentencepiece(b, all_rows(b), 300);
  CHECK(a == again);
  // 256 byte-fallback pieces, the characters seen, the meta pieces, then learned words.
  CHECK(sentencepiece_vocab_size(a) > 280);
}

TEST_CASE("tokenizer: encoding gives 16-bit token IDs that decode to the text in SentencePiece's normal form", "[tokenizer]") {
  // SentencePiece stores its normalised form of a text, not every byte: NFKC, spaces at the
  // ends dropped and runs of them collapsed, invalid UTF-8 replaced by U+FFFD (docs/data.md). The
  // byte tokenizer keeps every byte.
  if (plugin_unavailable_in_this_build()) LETHE_SKIP("no SentencePiece plugin in sanitizer builds");
  RecordBatch b = texts();
  const std::string model = train_sentencepiece(b, all_rows(b), 300);
  b.payloads.push("unseen \xff\xfe bytes");  // invalid UTF-8 stays encodable (byte fallback)
  b.ids.push("odd");
  b.owners.push("o");
  b.labels.push_back(0);
  b.splits.push_back(Split::kTrain);
  const RecordBatch original = b;
  const size_t before = b.size();
  encode_sentencepiece(b, model);
  CHECK(b.size() == before);
  CHECK(b.payload_type == PayloadType::kU16);
  for (size_t i = 0; i < b.size(); ++i) {
    CHECK(b.payloads.at(i).size() % 2 == 0);
    CHECK(!b.payloads.at(i).empty());
  }
  // Learned pieces make a known text shorter than its bytes; unseen bytes fall back to pieces
  // of their own rather than to <unk>.
  CHECK(b.payloads.at(0).size() / 2 < texts().payloads.at(0).size() / 3);
  CHECK(b.payloads.at(before - 1).size() / 2 >= 2);

  // Decoding gives back every text of the training set in normal form (ASCII words, so NFKC
  // changes nothing; the trailing space goes), and the invalid bytes as U+FFFD each.
  const auto normal_form = [](std::string t) {
    while (!t.empty() && t.back() == ' ') t.pop_back();
    return t;
  };
  decode_sentencepiece(b, model);
  CHECK(b.payload_type == PayloadType::kU8);
  for (size_t i = 0; i + 1 < before; ++i) {
    CHECK(std::string(b.payloads.at(i)) == normal_form(std::string(original.payloads.at(i))));
  }
  CHECK(std::string(b.payloads.at(before - 1)) == "unseen \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST_CASE("tokenizer: training needs public texts", "[tokenizer]") {
  if (plugin_unavailable_in_this_build()) LETHE_SKIP("no SentencePiece plugin in sanitizer builds");
  const RecordBatch b = texts();
  try {
    train_sentencepiece(b, {}, 300);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInput);
    CHECK_THAT(e.what(), Catch::Contains("public"));
  }
}
