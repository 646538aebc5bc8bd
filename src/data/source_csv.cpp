// CSV as in RFC 4180: a header row, fields optionally quoted with "" as an escaped quote, quoted
// fields may hold commas and line breaks. Lenient where it is harmless: LF or CRLF line ends,
// a quote inside an unquoted field is kept as is, blank lines are skipped.
#include <charconv>
#include <cmath>

#include "src/data/source_util.h"
#include "src/data/sources.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "f32 payloads are stored little-endian");

namespace lethe {
namespace {

// Splits the file into records. Fields are reused between records (their capacity stays), so
// a long file costs no per-record allocation once the first few records have been read.
class CsvRecords {
 public:
  explicit CsvRecords(InputFile& in) : in_(in) {}

  std::vector<std::string> fields;  // fields[0..count) hold the current record
  size_t count = 0;
  int64_t start_line = 0;  // physical line where the current record starts

  bool next() {
    for (;;) {
      if (in_.peek() < 0) return false;
      read_record();
      const bool blank = count == 1 && !quoted_ && fields[0].empty();
      if (!blank) return true;
    }
  }

 private:
  std::string& new_field() {
    if (count == fields.size()) fields.emplace_back();
    std::string& f = fields[count++];
    f.clear();
    return f;
  }

  void read_record() {
    enum State { kFieldStart, kUnquoted, kQuoted, kAfterQuote };
    start_line = line_;
    count = 0;
    quoted_ = false;
    std::string* field = &new_field();
    State state = kFieldStart;
    for (;;) {
      const int c = in_.get();
      if (c < 0) {
        if (state == kQuoted) {
          fail(ErrorKind::kInput, "{}:{}: unterminated quoted field (the file ends inside it)",
               in_.path().string(), start_line);
        }
        if (state == kUnquoted && !field->empty() && field->back() == '\r') field->pop_back();
        return;
      }
      const char ch = static_cast<char>(c);
      switch (state) {
        case kFieldStart:
          if (ch == '"') {
            state = kQuoted;
            quoted_ = true;
            break;
          }
          state = kUnquoted;
          [[fallthrough]];
        case kUnquoted:
          if (ch == ',') {
            field = &new_field();
            state = kFieldStart;
          } else if (ch == '\n') {
            ++line_;
            if (!field->empty() && field->back() == '\r') field->pop_back();  // CRLF
            return;
          } else {
            field->push_back(ch);
          }
          break;
        case kQuoted:
          if (ch == '"') {
            if (in_.peek() == '"') {
              in_.get();
              field->push_back('"');
            } else {
              state = kAfterQuote;
            }
          } else {
            if (ch == '\n') ++line_;
            field->push_back(ch);
          }
          break;
        case kAfterQuote:
          if (ch == ',') {
            field = &new_field();
            state = kFieldStart;
          } else if (ch == '\n') {
            ++line_;
            return;
          } else if (ch == '\r' && (in_.peek() == '\n' || in_.peek() < 0)) {
            // CRLF after a quoted last field
          } else {
            fail(ErrorKind::kInput, "{}:{}: unexpected character '{}' after the closing quote "
                 "of field {} (a quote inside a quoted field is written \"\")",
                 in_.path().string(), line_, ch, count);
          }
          break;
      }
    }
  }

  InputFile& in_;
  int64_t line_ = 1;
  bool quoted_ = false;
};

std::string join_header(const std::vector<std::string>& fields, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i) out += ", ";
    out += fields[i];
  }
  return out;
}

// Column of `name` in the header, or -1. A mapped column that appears twice is ambiguous.
int64_t find_column(const CsvRecords& header, const fs::path& path, const std::string& name) {
  int64_t found = -1;
  for (size_t i = 0; i < header.count; ++i) {
    if (header.fields[i] != name) continue;
    if (found >= 0) {
      fail(ErrorKind::kInput, "{}:{}: column '{}' appears twice in the header", path.string(),
           header.start_line, name);
    }
    found = static_cast<int64_t>(i);
  }
  return found;
}

int64_t require_column(const CsvRecords& header, const fs::path& path, const std::string& name) {
  const int64_t column = find_column(header, path, name);
  if (column < 0) {
    fail(ErrorKind::kInput, "{}:{}: the header has no column '{}' (columns: {})", path.string(),
         header.start_line, name, join_header(header.fields, header.count));
  }
  return column;
}

bool parse_float(std::string_view text, float& value) {
  text = trim_ascii(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && result.ec == std::errc() && result.ptr == text.data() + text.size() &&
         std::isfinite(value);
}

bool parse_int64(std::string_view text, int64_t& value) {
  text = trim_ascii(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && result.ec == std::errc() && result.ptr == text.data() + text.size();
}

// Values quoted in messages are cut short: a bad cell may be a whole paragraph.
std::string_view excerpt(std::string_view value) {
  return value.size() <= 40 ? value : value.substr(0, 40);
}

}  // namespace

SourceData read_csv(const fs::path& path, const TabularOptions& options) {
  InputFile in(path);
  TabularBuilder out(path, options, in.size_bytes());
  const bool features = out.features();
  if (features && options.feature_columns.empty()) {
    fail(ErrorKind::kUsage, "payload \"features\" from CSV needs feature_columns: the numeric "
         "columns that form the feature vector");
  }
  CsvRecords rows(in);
  if (!rows.next()) return out.finish();  // an empty file: no header, no records

  const int64_t id_col = require_column(rows, path, options.id_field);
  const int64_t owner_col = find_column(rows, path, options.owner_field);  // optional: owner = id
  const int64_t label_col = require_column(rows, path, options.label_field);
  const int64_t text_col = features ? -1 : require_column(rows, path, options.text_field);
  std::vector<int64_t> feature_cols;
  if (features) {
    for (const auto& name : options.feature_columns) {
      feature_cols.push_back(require_column(rows, path, name));
    }
  }
  const int64_t time_col =
      out.timestamps() ? require_column(rows, path, options.timestamp_field) : -1;
  const size_t width = rows.count;
  if (features) out.check_feature_count(rows.start_line, feature_cols.size());

  std::vector<float> values(feature_cols.size());
  while (rows.next()) {
    const int64_t line = rows.start_line;
    if (rows.count != width) {
      out.fail_at(line, "the record has {} fields, expected {} (as in the header)", rows.count,
                  width);
    }
    const std::string& id = rows.fields[id_col];
    out.check_name(line, options.id_field, id);
    std::string_view owner = id;
    if (owner_col >= 0 && !rows.fields[owner_col].empty()) {
      owner = rows.fields[owner_col];
      out.check_name(line, options.owner_field, owner);
    }
    const int32_t label = out.label(line, rows.fields[label_col]);

    std::string_view payload;
    if (features) {
      for (size_t i = 0; i < feature_cols.size(); ++i) {
        const std::string& cell = rows.fields[feature_cols[i]];
        if (!parse_float(cell, values[i])) {
          out.fail_at(line, "column '{}': '{}' is not a finite number",
                      options.feature_columns[i], excerpt(cell));
        }
      }
      payload = std::string_view(reinterpret_cast<const char*>(values.data()),
                                 values.size() * sizeof(float));
    } else {
      payload = rows.fields[text_col];  // raw bytes: the byte tokenizer takes any encoding
    }

    int64_t timestamp = 0;
    if (time_col >= 0 && !parse_int64(rows.fields[time_col], timestamp)) {
      out.fail_at(line, "column '{}': '{}' is not an integer (epoch seconds)",
                  options.timestamp_field, excerpt(rows.fields[time_col]));
    }
    out.add(id, owner, payload, label, timestamp, in.offset());
  }
  return out.finish();
}

}  // namespace lethe
