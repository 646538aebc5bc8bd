// Small helpers shared by the dataset readers (sources.h): buffered input, UTF-8 validation,
// whitespace handling and label mapping.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/common/error.h"
#include "src/common/fs.h"
#include "src/data/records.h"
#include "src/data/sources.h"

namespace lethe {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

inline bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
std::string_view trim_ascii(std::string_view s);
// Appends `s` to `out` with every whitespace run collapsed to one space and both ends trimmed;
// a single space separates it from what `out` already holds when both are non-empty.
void append_collapsed(std::string_view s, std::string& out);

// A read-only file read through one reused buffer, so that millions of lines cost no per-line
// allocation. A leading UTF-8 byte-order mark (spreadsheet exports) is skipped.
class InputFile {
 public:
  explicit InputFile(const fs::path& path);  // missing file: kNotFound naming it
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // The next line without its '\n' (a trailing '\r' is kept: callers decide); false at the end.
  // The view stays valid until the next call.
  bool read_line(std::string_view& line);
  // Byte-wise access for parsers whose records span lines; -1 at the end.
  int get() {
    if (pos_ == end_ && !fill()) return -1;
    return static_cast<unsigned char>(buffer_[pos_++]);
  }
  int peek() {
    if (pos_ == end_ && !fill()) return -1;
    return static_cast<unsigned char>(buffer_[pos_]);
  }
  uint64_t size_bytes() const { return size_; }
  uint64_t offset() const { return buffer_offset_ + pos_; }  // bytes consumed so far
  const fs::path& path() const { return path_; }

 private:
  bool fill();

  fs::path path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
  size_t pos_ = 0, end_ = 0;
  std::string carry_;  // a line split across two buffer fills
  uint64_t size_ = 0;
  uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  bool first_fill_ = true;
};

// Maps label strings to label values. With a declared set, value i is declared[i] and anything
// else is rejected; without one, values are provisional (first-seen order) until finish()
// renumbers them by sorted name, so the mapping does not depend on record order.
class LabelMapper {
 public:
  explicit LabelMapper(const std::vector<std::string>& declared);
  // The label value, or -1 when a declared set exists and does not contain `name`.
  int32_t lookup(std::string_view name);
  // Renumbers `labels` (values from lookup) and returns the label names.
  std::vector<std::string> finish(std::vector<int32_t>& labels);
  // "'a', 'b', 'c'" for error messages.
  std::string declared_list() const;

 private:
  bool declared_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, int32_t> index_;
  std::string key_;  // reused lookup key: unordered_map has no string_view lookup in C++17
};

// Reserves the batch's columns for the whole file from what the first `seen` records used,
// so that a multi-gigabyte input does not grow every column a few dozen times.
void reserve_from_sample(RecordBatch& batch, size_t seen, uint64_t bytes_seen,
                         uint64_t total_bytes);

// The part of the JSONL and CSV readers that does not depend on the format: option checks,
// per-field validation with "<file>:<line>: " errors, label mapping and the growing batch.
class TabularBuilder {
 public:
  TabularBuilder(const fs::path& path, const TabularOptions& options, uint64_t total_bytes);

  bool features() const { return features_; }
  bool timestamps() const { return timestamps_; }

  template <typename... Args>
  [[noreturn]] void fail_at(int64_t line, fmt::format_string<Args...> format,
                            Args&&... args) const {
    fail(ErrorKind::kInput, "{}:{}: {}", path_.string(), line,
         fmt::format(format, std::forward<Args>(args)...));
  }

  // IDs and owners name things users type back at us: non-empty, valid UTF-8.
  void check_name(int64_t line, std::string_view field, std::string_view value) const;
  // The label value of `name`; fails when it is empty, not UTF-8 or outside the declared set.
  int32_t label(int64_t line, std::string_view name);
  // Every feature vector must have the first one's length.
  void check_feature_count(int64_t line, size_t count);

  // `offset` is how far into the file the reader is (sizes the columns after a sample).
  void add(std::string_view id, std::string_view owner, std::string_view payload, int32_t label,
           int64_t timestamp, uint64_t offset);
  SourceData finish();

 private:
  fs::path path_;
  bool features_, timestamps_;
  std::string label_field_;
  LabelMapper labels_;
  SourceData out_;
  int64_t feature_dim_ = -1;
  uint64_t total_bytes_;
};

}  // namespace lethe
