// Tokenizers for text payloads. The default is byte-level: a text's tokens are its UTF-8
// bytes, so there is no vocabulary to ship or to keep free of private data. The optional
// SentencePiece tokenizer is trained on the public split only, for the same reason: a
// vocabulary learned from private records would itself depend on them, and deleting those
// records could then never be exact.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/data/records.h"

namespace lethe {

// Trains a SentencePiece unigram model on the payloads of `batch` at `rows` (texts as bytes),
// single-threaded and unshuffled so that the same texts give the same model. Returns the
// serialized model. ErrorKind::kInput when there is nothing to train on.
std::string train_sentencepiece(const RecordBatch& batch, const std::vector<uint32_t>& rows,
                                int vocab_size);

// Replaces every text payload of `batch` by its SentencePiece token IDs (kU16 when the
// vocabulary fits, else kU32). `batch` must hold byte-level text.
void encode_sentencepiece(RecordBatch& batch, const std::string& serialized_model);

// The inverse of encode_sentencepiece: every payload of `batch` (kU16 or kU32 token IDs)
// becomes byte-level text again (kU8). The text is SentencePiece's normalized form of the
// original (NFKC, runs of spaces collapsed), which is all the workspace keeps once encoded.
// ErrorKind::kIntegrity naming the record when an ID is not in the model.
void decode_sentencepiece(RecordBatch& batch, const std::string& serialized_model);

// Number of pieces in a serialized model.
int sentencepiece_vocab_size(const std::string& serialized_model);

}  // namespace lethe
