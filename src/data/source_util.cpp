#include "src/data/source_util.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "src/common/error.h"

namespace lethe {

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    // Most IDs and texts are ASCII: check eight bytes at a time before decoding.
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned lead = *p;
    if (lead < 0x80) {
      ++p;
      continue;
    }
    ptrdiff_t extra;
    uint32_t cp, min;
    if ((lead & 0xE0) == 0xC0) {
      extra = 1, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, cp = lead & 0x07, min = 0x10000;
    } else {
      return false;  // a stray continuation byte or an invalid lead byte
    }
    if (end - p <= extra) return false;
    for (ptrdiff_t i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += extra + 1;
  }
  return true;
}

std::string_view trim_ascii(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ascii_space(s[b])) ++b;
  while (e > b && is_ascii_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

void append_collapsed(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_ascii_space(s[i])) ++i;
    if (i == s.size()) break;
    size_t j = i;
    while (j < s.size() && !is_ascii_space(s[j])) ++j;
    if (!out.empty()) out.push_back(' ');
    out.append(s.substr(i, j - i));
    i = j;
  }
}

InputFile::InputFile(const fs::path& path) : path_(path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fail(ErrorKind::kInput, "'{}' is a directory, not an input file", path.string());
  }
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) fail_errno("cannot open input file", path.string());
  const auto size = fs::file_size(path, ec);
  size_ = ec ? 0 : static_cast<uint64_t>(size);
  buffer_.resize(size_t{1} << 20);
}

InputFile::~InputFile() {
  if (file_) std::fclose(file_);
}

bool InputFile::fill() {
  while (pos_ == end_) {
    const size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (n == 0) {
      if (std::ferror(file_)) fail_errno("cannot read input file", path_.string());
      return false;
    }
    buffer_offset_ += end_;
    pos_ = 0;
    end_ = n;
    if (first_fill_) {
      first_fill_ = false;
      if (n >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
    }
  }
  return true;
}

bool InputFile::read_line(std::string_view& line) {
  bool carrying = false;
  carry_.clear();
  for (;;) {
    if (pos_ == end_ && !fill()) {
      if (!carrying) return false;
      line = carry_;  // a last line without '\n'
      return true;
    }
    const char* start = buffer_.data() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    if (nl) {
      const size_t len = static_cast<size_t>(nl - start);
      pos_ += len + 1;
      if (!carrying) {
        line = std::string_view(start, len);  // the common case: no copy
      } else {
        carry_.append(start, len);
        line = carry_;
      }
      return true;
    }
    carry_.append(start, end_ - pos_);
    carrying = true;
    pos_ = end_;
  }
}

LabelMapper::LabelMapper(const std::vector<std::string>& declared) : declared_(!declared.empty()) {
  for (const auto& name : declared) {
    if (!index_.emplace(name, static_cast<int32_t>(names_.size())).second) {
      fail(ErrorKind::kUsage, "label '{}' is declared twice", name);
    }
    names_.push_back(name);
  }
}

int32_t LabelMapper::lookup(std::string_view name) {
  key_.assign(name);
  const auto it = index_.find(key_);
  if (it != index_.end()) return it->second;
  if (declared_) return -1;
  const auto value = static_cast<int32_t>(names_.size());
  names_.push_back(key_);
  index_.emplace(key_, value);
  return value;
}

std::vector<std::string> LabelMapper::finish(std::vector<int32_t>& labels) {
  if (declared_) return names_;
  std::vector<int32_t> order(names_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return names_[a] < names_[b]; });
  std::vector<int32_t> renumber(names_.size());
  std::vector<std::string> sorted;
  sorted.reserve(names_.size());
  for (size_t i = 0; i < order.size(); ++i) {
    renumber[order[i]] = static_cast<int32_t>(i);
    sorted.push_back(names_[order[i]]);
  }
  for (auto& label : labels) label = renumber[label];
  return sorted;
}

std::string LabelMapper::declared_list() const {
  std::string out;
  for (const auto& name : names_) {
    if (!out.empty()) out += ", ";
    out += fmt::format("'{}'", name);
  }
  return out;
}

void reserve_from_sample(RecordBatch& batch, size_t seen, uint64_t bytes_seen,
                         uint64_t total_bytes) {
  if (seen == 0 || bytes_seen == 0 || total_bytes <= bytes_seen) return;
  // 5% headroom so that a slightly longer tail does not trigger one last doubling.
  const double scale = static_cast<double>(total_bytes) / static_cast<double>(bytes_seen) * 1.05;
  const auto count = std::min<size_t>(static_cast<size_t>(static_cast<double>(seen) * scale) + 1,
                                      static_cast<size_t>(total_bytes));
  const auto grow = [&](ByteColumn& column) {
    column.reserve(count, static_cast<size_t>(static_cast<double>(column.bytes.size()) * scale) + 1);
  };
  grow(batch.ids);
  grow(batch.owners);
  grow(batch.payloads);
  batch.labels.reserve(count);
  batch.splits.reserve(count);
  if (batch.has_timestamps()) batch.timestamps.reserve(count);
}

TabularBuilder::TabularBuilder(const fs::path& path, const TabularOptions& options,
                               uint64_t total_bytes)
    : path_(path),
      features_(options.payload == "features"),
      timestamps_(!options.timestamp_field.empty()),
      label_field_(options.label_field),
      labels_(options.labels),
      total_bytes_(total_bytes) {
  if (options.payload != "text" && options.payload != "features") {
    fail(ErrorKind::kUsage, "data payload must be \"text\" or \"features\", got \"{}\"",
         options.payload);
  }
  RecordBatch& batch = out_.records;
  batch.payload_kind = features_ ? PayloadKind::kFeatures : PayloadKind::kText;
  batch.payload_type = features_ ? PayloadType::kF32 : PayloadType::kU8;
}

void TabularBuilder::check_name(int64_t line, std::string_view field,
                                std::string_view value) const {
  if (value.empty()) fail_at(line, "field '{}' is empty", field);
  if (!is_valid_utf8(value)) fail_at(line, "field '{}' is not valid UTF-8", field);
}

int32_t TabularBuilder::label(int64_t line, std::string_view name) {
  if (name.empty()) fail_at(line, "field '{}' is empty", label_field_);
  if (!is_valid_utf8(name)) fail_at(line, "field '{}' is not valid UTF-8", label_field_);
  const int32_t value = labels_.lookup(name);
  if (value < 0) {
    fail_at(line, "label '{}' is not in the declared label set ({})", name,
            labels_.declared_list());
  }
  return value;
}

void TabularBuilder::check_feature_count(int64_t line, size_t count) {
  if (feature_dim_ < 0) {
    feature_dim_ = static_cast<int64_t>(count);
  } else if (count != static_cast<size_t>(feature_dim_)) {
    fail_at(line, "expected {} feature values (as in the first record), got {}", feature_dim_,
            count);
  }
}

void TabularBuilder::add(std::string_view id, std::string_view owner, std::string_view payload,
                         int32_t label, int64_t timestamp, uint64_t offset) {
  RecordBatch& batch = out_.records;
  batch.ids.push(id);
  batch.owners.push(owner);
  batch.payloads.push(payload);
  batch.labels.push_back(label);
  batch.splits.push_back(Split::kTrain);
  if (timestamps_) batch.timestamps.push_back(timestamp);
  constexpr size_t kSample = 4096;
  if (batch.size() == kSample) reserve_from_sample(batch, kSample, offset, total_bytes_);
}

SourceData TabularBuilder::finish() {
  out_.label_names = labels_.finish(out_.records.labels);
  if (features_ && feature_dim_ >= 0) out_.records.payload_shape = {feature_dim_};
  return std::move(out_);
}

}  // namespace lethe
