// JSON Lines: one JSON object per line. Parsed with nlohmann's SAX interface into reused
// buffers: building a DOM per line would cost a dozen heap allocations per record, and the
// fields we do not map are never copied at all.
#include <limits>

#include <nlohmann/json.hpp>

#include "src/data/f32.h"
#include "src/data/source_util.h"
#include "src/data/sources.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "f32 payloads are stored little-endian");

namespace lethe {
namespace {

enum class JType : uint8_t { kAbsent, kNull, kBool, kInteger, kFloat, kString, kArray, kObject };

const char* jtype_name(JType type) {
  switch (type) {
    case JType::kAbsent: return "nothing";
    case JType::kNull: return "null";
    case JType::kBool: return "a boolean";
    case JType::kInteger: return "an integer";
    case JType::kFloat: return "a non-integer number";
    case JType::kString: return "a string";
    case JType::kArray: return "an array";
    case JType::kObject: return "an object";
  }
  return "?";
}

struct JValue {
  JType type = JType::kAbsent;
  std::string text;        // strings, and integers as decimal text
  int64_t integer = 0;
  bool integer_fits = true;  // false for integers above INT64_MAX
};

// Collects the mapped fields of one top-level object. Only depth 1 (the object's members) and,
// for the features array, depth 2 are looked at; everything else is skipped.
class RecordSax {
 public:
  enum Slot { kId, kOwner, kLabel, kTimestamp, kPayload, kSlotCount, kNone = kSlotCount };

  RecordSax(const TabularOptions& options, bool features) : features_(features) {
    names_[kId] = options.id_field;
    names_[kOwner] = options.owner_field;
    names_[kLabel] = options.label_field;
    names_[kTimestamp] = options.timestamp_field;  // empty when unused: key() skips it
    names_[kPayload] = features ? options.features_field : options.text_field;
  }

  void reset() {
    for (auto& v : values_) v.type = JType::kAbsent;
    top_ = JType::kAbsent;
    depth_ = 0;
    slot_ = kNone;
    in_features_ = false;
    feature_values.clear();
    bad_element_ = -1;
    error.clear();
  }

  const JValue& value(Slot slot) const { return values_[slot]; }
  JType top() const { return top_; }
  // Index of the first feature element that is not a finite number, or -1.
  int64_t bad_element() const { return bad_element_; }
  const char* bad_element_what() const { return bad_what_; }

  std::vector<float> feature_values;
  std::string error;

  // --- nlohmann SAX interface ---
  bool null() { return scalar(JType::kNull); }
  bool boolean(bool) { return scalar(JType::kBool); }
  bool number_integer(int64_t v) {
    if (in_feature_array()) return feature(static_cast<float>(v));
    if (JValue* target = scalar_target(JType::kInteger)) {
      target->integer = v;
      target->integer_fits = true;
      const fmt::format_int text(v);
      target->text.assign(text.data(), text.size());
    }
    return true;
  }
  bool number_unsigned(uint64_t v) {
    if (in_feature_array()) return feature(static_cast<float>(v));
    if (JValue* target = scalar_target(JType::kInteger)) {
      target->integer_fits = v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      target->integer = target->integer_fits ? static_cast<int64_t>(v) : 0;
      const fmt::format_int text(v);
      target->text.assign(text.data(), text.size());
    }
    return true;
  }
  bool number_float(double v, const std::string&) {
    if (in_feature_array()) {
      if (!fits_f32(v)) return bad("not a finite 32-bit number");
      return feature(static_cast<float>(v));
    }
    return scalar(JType::kFloat);
  }
  bool string(std::string& v) {
    if (in_feature_array()) return bad("a string");
    if (JValue* target = scalar_target(JType::kString)) target->text.assign(v);
    return true;
  }
  bool binary(nlohmann::json::binary_t&) { return scalar(JType::kString); }  // not in JSON text
  bool start_object(size_t) { return open(JType::kObject); }
  bool start_array(size_t) { return open(JType::kArray); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    if (depth_ == 1) {
      slot_ = kNone;
      for (int s = 0; s < kSlotCount; ++s) {
        if (!names_[s].empty() && k == names_[s]) {
          slot_ = static_cast<Slot>(s);
          break;
        }
      }
    }
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error = ex.what();
    return false;
  }

 private:
  bool in_feature_array() const { return in_features_ && depth_ == 2; }

  // Where a scalar at the current position goes: nullptr when it is not a mapped member.
  JValue* scalar_target(JType type) {
    if (depth_ == 0) {
      top_ = type;
      return nullptr;
    }
    if (depth_ != 1 || slot_ == kNone) return nullptr;
    values_[slot_].type = type;
    return &values_[slot_];
  }
  bool scalar(JType type) {
    if (in_feature_array()) return bad(jtype_name(type));
    scalar_target(type);
    return true;
  }
  bool feature(float v) {
    feature_values.push_back(v);
    return true;
  }
  bool bad(const char* what) {
    if (bad_element_ < 0) {
      bad_element_ = static_cast<int64_t>(feature_values.size());
      bad_what_ = what;
    }
    feature_values.push_back(0);  // keeps later indices right
    return true;
  }
  bool open(JType type) {
    if (in_feature_array()) {
      bad(jtype_name(type));
    } else if (depth_ == 0) {
      top_ = type;
    } else if (depth_ == 1 && slot_ != kNone) {
      values_[slot_].type = type;
      if (type == JType::kArray && slot_ == kPayload && features_) {
        in_features_ = true;
        feature_values.clear();
        bad_element_ = -1;
      }
    }
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    if (depth_ <= 1) in_features_ = false;
    return true;
  }

  bool features_;
  std::string names_[kSlotCount];
  JValue values_[kSlotCount];
  JType top_ = JType::kAbsent;
  int depth_ = 0;
  Slot slot_ = kNone;
  bool in_features_ = false;
  int64_t bad_element_ = -1;
  const char* bad_what_ = "";
};

// nlohmann says "parse error at line 1, column 7: ..." about the one line it was given; keep
// the column and the reason, our prefix gives the real line.
std::string parse_error_detail(const std::string& what) {
  const size_t pos = what.find("column ");
  return pos == std::string::npos ? what : what.substr(pos);
}

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (!is_ascii_space(c)) return false;
  }
  return true;
}

}  // namespace

SourceData read_jsonl(const fs::path& path, const TabularOptions& options) {
  InputFile in(path);
  TabularBuilder out(path, options, in.size_bytes());
  const bool features = out.features();
  RecordSax sax(options, features);
  const std::string& id_field = options.id_field;
  const std::string& owner_field = options.owner_field;
  const std::string& label_field = options.label_field;
  const std::string& payload_field = features ? options.features_field : options.text_field;

  std::string_view line;
  int64_t line_no = 0;
  while (in.read_line(line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) continue;

    sax.reset();
    if (!nlohmann::json::sax_parse(line.data(), line.data() + line.size(), &sax)) {
      out.fail_at(line_no, "malformed JSON: {}", parse_error_detail(sax.error));
    }
    if (sax.top() != JType::kObject) {
      out.fail_at(line_no, "expected a JSON object, got {}", jtype_name(sax.top()));
    }

    const JValue& id = sax.value(RecordSax::kId);
    if (id.type == JType::kAbsent) out.fail_at(line_no, "missing field '{}'", id_field);
    if (id.type != JType::kString && id.type != JType::kInteger) {
      out.fail_at(line_no, "field '{}' must be a string or an integer, got {}", id_field,
                  jtype_name(id.type));
    }
    out.check_name(line_no, id_field, id.text);

    const JValue& owner_value = sax.value(RecordSax::kOwner);
    std::string_view owner = id.text;
    if (owner_value.type == JType::kString || owner_value.type == JType::kInteger) {
      owner = owner_value.text;
      out.check_name(line_no, owner_field, owner);
    } else if (owner_value.type != JType::kAbsent && owner_value.type != JType::kNull) {
      out.fail_at(line_no, "field '{}' must be a string or an integer, got {}", owner_field,
                  jtype_name(owner_value.type));
    }

    const JValue& label_value = sax.value(RecordSax::kLabel);
    if (label_value.type == JType::kAbsent) out.fail_at(line_no, "missing field '{}'", label_field);
    if (label_value.type != JType::kString && label_value.type != JType::kInteger) {
      out.fail_at(line_no, "field '{}' must be a string or an integer, got {}", label_field,
                  jtype_name(label_value.type));
    }
    const int32_t label = out.label(line_no, label_value.text);

    const JValue& payload_value = sax.value(RecordSax::kPayload);
    if (payload_value.type == JType::kAbsent) {
      out.fail_at(line_no, "missing field '{}'", payload_field);
    }
    std::string_view payload;
    if (features) {
      if (payload_value.type != JType::kArray) {
        out.fail_at(line_no, "field '{}' must be an array of numbers, got {}", payload_field,
                    jtype_name(payload_value.type));
      }
      if (sax.bad_element() >= 0) {
        out.fail_at(line_no, "field '{}' element {} is {}, expected a finite number",
                    payload_field, sax.bad_element(), sax.bad_element_what());
      }
      if (sax.feature_values.empty()) out.fail_at(line_no, "field '{}' is empty", payload_field);
      out.check_feature_count(line_no, sax.feature_values.size());
      payload = std::string_view(reinterpret_cast<const char*>(sax.feature_values.data()),
                                 sax.feature_values.size() * sizeof(float));
    } else {
      if (payload_value.type != JType::kString) {
        out.fail_at(line_no, "field '{}' must be a string, got {}", payload_field,
                    jtype_name(payload_value.type));
      }
      payload = payload_value.text;
    }

    int64_t timestamp = 0;
    if (out.timestamps()) {
      const JValue& t = sax.value(RecordSax::kTimestamp);
      if (t.type == JType::kAbsent) {
        out.fail_at(line_no, "missing field '{}'", options.timestamp_field);
      }
      if (t.type != JType::kInteger) {
        out.fail_at(line_no, "field '{}' must be an integer (epoch seconds), got {}",
                    options.timestamp_field, jtype_name(t.type));
      }
      if (!t.integer_fits) {
        out.fail_at(line_no, "field '{}' is out of range: {}", options.timestamp_field, t.text);
      }
      timestamp = t.integer;
    }

    out.add(id.text, owner, payload, label, timestamp, in.offset());
  }
  return out.finish();
}

}  // namespace lethe
