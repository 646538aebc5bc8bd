// Readers that turn source data into a RecordBatch: the Debian Fashion-MNIST, fortunes and
// WordNet packages (the built-in datasets) and user data as JSONL or CSV.
//
// Every reader is deterministic: the same files and options give an identical batch. Bad input
// is ErrorKind::kInput with a message naming the file (and line, for JSONL/CSV); an empty input
// is not an error here (the caller decides what an empty dataset means), and neither are
// duplicate IDs (ingest checks them across the whole dataset).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/fs.h"
#include "src/data/records.h"

namespace lethe {

struct SourceData {
  RecordBatch records;                  // every record, splits pre-set to kTest where the source
                                        // defines a test split, else kTrain
  std::vector<std::string> label_names; // label value i means label_names[i]
};

// Fashion-MNIST from the idx files (gzipped or not). Train images get synthetic owners
// "user-<n>" whose record counts follow a Zipf law, so that forgetting one owner is a realistic
// request of varying size; t10k images are the test split and own themselves.
struct FashionMnistOptions {
  fs::path dir = "/usr/share/datasets/fashion-mnist";
  int64_t num_owners = 2000;  // synthetic owners user-<n>
  double owner_skew = 1.1;    // Zipf exponent s of records per owner (0 = uniform)
  uint64_t seed = 42;
  int64_t limit = 0;  // 0 = all; else the first `limit` training images (and the first
                      // limit/6 test images, at least 1)
};
SourceData read_fashion_mnist(const FashionMnistOptions& options);

// The fortune cookie files: one category per regular file, one record per fortune, owned by
// its attributed author (or an anonymous owner unique to the record).
struct FortunesOptions {
  fs::path dir = "/usr/share/games/fortunes";
  std::vector<std::string> categories;  // empty = every category file
};
SourceData read_fortunes(const FortunesOptions& options);

// WordNet's data.noun/.verb/.adj/.adv: one record per synset ("words: gloss"), labelled by its
// lexicographer file (noun.food, verb.motion, ...), owned by its first word; IDs
// "<lexname>-<offset>". Only the data files that hold the chosen categories are read.
struct WordnetOptions {
  fs::path dir = "/usr/share/wordnet";
  std::vector<std::string> categories;  // lexicographer file names; empty = all 45
};
SourceData read_wordnet(const WordnetOptions& options);

struct TabularOptions {  // JSONL and CSV
  std::string id_field = "id", owner_field = "owner", text_field = "text", label_field = "label";
  std::string features_field = "features";   // JSONL: an array of numbers
  std::vector<std::string> feature_columns;  // CSV: numeric columns that form the feature vector
  std::string timestamp_field;               // empty = none; else integer epoch seconds required
  std::string payload = "text";              // "text" or "features"
  std::vector<std::string> labels;           // declared label set; empty = inferred (sorted unique)
};
SourceData read_jsonl(const fs::path& path, const TabularOptions& options);
SourceData read_csv(const fs::path& path, const TabularOptions& options);

}  // namespace lethe
