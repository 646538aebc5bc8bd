#include "src/config/config.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "src/common/error.h"
#include "src/config/config_schema.h"

namespace lethe {

namespace {

const char* toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    default: return "nothing";
  }
}

std::string quote(const std::string& s) { return nlohmann::json(s).dump(); }

std::string quote_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out + "]";
}

std::string format_real(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // TOML floats need a point
  return s;
}

std::string real_list(const std::vector<double>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + format_real(items[i]);
  return out + "]";
}

// Levenshtein distance, for "did you mean" suggestions on unknown keys.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// Reads a parsed TOML table into a Config, collecting every problem with its line.
class Loader {
 public:
  Loader(const toml::table& root, std::string source) : root_(root), source_(std::move(source)) {}

  void section(const char* name, const char*) {
    section_ = name;
    sections_.push_back(name);
    keys_[name];
    table_ = nullptr;
    if (const toml::node* node = root_.get(name)) {
      table_ = node->as_table();
      if (!table_) error(*node, fmt::format("'{}' must be a table ([{}]), got {}", name, name,
                                            toml_type_name(*node)));
    }
  }

  void integer(const char* name, int64_t& field, int64_t lo, int64_t hi, const char*) {
    const std::string expected = fmt::format("an integer in [{}, {}]", lo, hi);
    if (const toml::node* n = find(name)) {
      if (!n->is_integer()) return type_error(*n, name, expected);
      const int64_t v = n->as_integer()->get();
      if (v < lo || v > hi) return range_error(*n, name, expected, fmt::format("{}", v));
      field = v;
    }
  }

  void real(const char* name, double& field, double lo, double hi, const char*) {
    const std::string expected = fmt::format("a number in [{}, {}]", lo, hi);
    if (const toml::node* n = find(name)) {
      if (!n->is_number()) return type_error(*n, name, expected);
      const double v = n->is_integer() ? static_cast<double>(n->as_integer()->get())
                                       : n->as_floating_point()->get();
      if (!(v >= lo && v <= hi)) return range_error(*n, name, expected, format_real(v));
      field = v;
    }
  }

  void boolean(const char* name, bool& field, const char*) {
    if (const toml::node* n = find(name)) {
      if (!n->is_boolean()) return type_error(*n, name, "true or false");
      field = n->as_boolean()->get();
    }
  }

  void choice(const char* name, std::string& field, const std::vector<std::string>& options,
              const char*) {
    std::vector<std::string> quoted;
    for (const auto& o : options) quoted.push_back(quote(o));
    const std::string expected = "one of " + join(quoted, ", ");
    if (const toml::node* n = find(name)) {
      if (!n->is_string()) return type_error(*n, name, expected);
      const std::string v = n->as_string()->get();
      if (std::find(options.begin(), options.end(), v) == options.end()) {
        return range_error(*n, name, expected, quote(v) + suggestion(v, options));
      }
      field = v;
    }
  }

  void text(const char* name, std::string& field, const char*) {
    if (const toml::node* n = find(name)) {
      if (!n->is_string()) return type_error(*n, name, "a string");
      field = n->as_string()->get();
    }
  }

  void strings(const char* name, std::vector<std::string>& field, const char*) {
    if (const toml::node* n = find(name)) {
      const toml::array* arr = n->as_array();
      if (!arr) return type_error(*n, name, "an array of strings");
      std::vector<std::string> values;
      for (const toml::node& item : *arr) {
        if (!item.is_string()) return type_error(item, name, "an array of strings");
        values.push_back(item.as_string()->get());
      }
      field = std::move(values);
    }
  }

  void reals(const char* name, std::vector<double>& field, double lo, double hi, const char*) {
    const std::string expected = fmt::format("an array of numbers in [{}, {}]", lo, hi);
    if (const toml::node* n = find(name)) {
      const toml::array* arr = n->as_array();
      if (!arr) return type_error(*n, name, expected);
      std::vector<double> values;
      for (const toml::node& item : *arr) {
        if (!item.is_number()) return type_error(item, name, expected);
        const double v = item.is_integer() ? static_cast<double>(item.as_integer()->get())
                                           : item.as_floating_point()->get();
        if (!(v >= lo && v <= hi)) return range_error(item, name, expected, format_real(v));
        values.push_back(v);
      }
      field = std::move(values);
    }
  }

  // Reports unknown sections and keys, then throws if anything was wrong.
  void finish() {
    for (const auto& [key, node] : root_) {
      const std::string k(key.str());
      if (!keys_.count(k)) {
        error(node, fmt::format("unknown section or key '{}'{}", k, suggestion(k, sections_)));
        continue;
      }
      if (const toml::table* t = node.as_table()) {
        const auto& known = keys_[k];
        for (const auto& [sub, subnode] : *t) {
          const std::string s(sub.str());
          if (std::find(known.begin(), known.end(), s) == known.end()) {
            error(subnode, fmt::format("unknown key '{}.{}'{}; valid keys in [{}]: {}", k, s,
                                       suggestion(s, known), k, join(known, ", ")));
          }
        }
      }
    }
    if (errors_.empty()) return;
    std::stable_sort(errors_.begin(), errors_.end());
    std::vector<std::string> lines;
    for (const auto& [line, msg] : errors_) lines.push_back(msg);
    throw Error(ErrorKind::kUsage, join(lines, "\n"));
  }

 private:
  const toml::node* find(const char* name) {
    keys_[section_].push_back(name);
    return table_ ? table_->get(name) : nullptr;
  }

  void error(const toml::node& node, const std::string& message) {
    const auto line = node.source().begin.line;
    errors_.emplace_back(line, fmt::format("{}:{}: {}", source_, line, message));
  }

  void type_error(const toml::node& n, const char* name, const std::string& expected) {
    error(n, fmt::format("key '{}.{}': expected {}, got {}", section_, name, expected,
                         toml_type_name(n)));
  }

  void range_error(const toml::node& n, const char* name, const std::string& expected,
                   const std::string& got) {
    error(n, fmt::format("key '{}.{}': expected {}, got {}", section_, name, expected, got));
  }

  const toml::table& root_;
  std::string source_;
  std::string section_;
  const toml::table* table_ = nullptr;
  std::vector<std::string> sections_;
  std::map<std::string, std::vector<std::string>> keys_;
  std::vector<std::pair<uint32_t, std::string>> errors_;
};

// Writes every key as TOML with its documentation as comments.
class TomlWriter {
 public:
  std::string out;

  void section(const char* name, const char* doc) {
    out += fmt::format("{}# {}\n[{}]\n", out.empty() ? "" : "\n", doc, name);
  }
  void integer(const char* name, const int64_t& v, int64_t lo, int64_t hi, const char* doc) {
    put(name, fmt::format("{}", v), doc, fmt::format("integer in [{}, {}]", lo, hi));
  }
  void real(const char* name, const double& v, double lo, double hi, const char* doc) {
    put(name, format_real(v), doc, fmt::format("number in [{}, {}]", lo, hi));
  }
  void boolean(const char* name, const bool& v, const char* doc) {
    put(name, v ? "true" : "false", doc, "true or false");
  }
  void choice(const char* name, const std::string& v, const std::vector<std::string>& options,
              const char* doc) {
    put(name, quote(v), doc, "one of " + join(options, ", "));
  }
  void text(const char* name, const std::string& v, const char* doc) {
    put(name, quote(v), doc, "string");
  }
  void strings(const char* name, const std::vector<std::string>& v, const char* doc) {
    put(name, quote_list(v), doc, "array of strings");
  }
  void reals(const char* name, const std::vector<double>& v, double lo, double hi, const char* doc) {
    put(name, real_list(v), doc, fmt::format("array of numbers in [{}, {}]", lo, hi));
  }

 private:
  void put(const char* name, const std::string& value, const char* doc, const std::string& type) {
    out += fmt::format("# {} ({})\n{} = {}\n", doc, type, name, value);
  }
};

// Writes the Markdown reference: one table per section.
class DocWriter {
 public:
  std::string out;

  void section(const char* name, const char* doc) {
    out += fmt::format("\n## [{}]\n\n{}\n\n| key | type | default | allowed | meaning |\n"
                       "|---|---|---|---|---|\n",
                       name, doc);
  }
  void integer(const char* name, const int64_t& v, int64_t lo, int64_t hi, const char* doc) {
    row(name, "integer", fmt::format("{}", v), fmt::format("{} … {}", lo, hi), doc);
  }
  void real(const char* name, const double& v, double lo, double hi, const char* doc) {
    row(name, "float", format_real(v), fmt::format("{} … {}", lo, hi), doc);
  }
  void boolean(const char* name, const bool& v, const char* doc) {
    row(name, "boolean", v ? "true" : "false", "true, false", doc);
  }
  void choice(const char* name, const std::string& v, const std::vector<std::string>& options,
              const char* doc) {
    std::vector<std::string> ticked;
    for (const auto& o : options) ticked.push_back("`" + o + "`");
    row(name, "string", quote(v), join(ticked, ", "), doc);
  }
  void text(const char* name, const std::string& v, const char* doc) {
    row(name, "string", quote(v), "any", doc);
  }
  void strings(const char* name, const std::vector<std::string>& v, const char* doc) {
    row(name, "array of strings", quote_list(v), "any", doc);
  }
  void reals(const char* name, const std::vector<double>& v, double lo, double hi, const char* doc) {
    row(name, "array of floats", real_list(v), fmt::format("each {} … {}", lo, hi), doc);
  }

 private:
  void row(const char* name, const char* type, const std::string& def, const std::string& allowed,
           const char* doc) {
    out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", name, type, def, allowed, doc);
  }
};

toml::table parse_toml(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    fail(ErrorKind::kUsage, "{}:{}:{}: TOML syntax error: {}", source, at.line, at.column,
         e.description());
  }
}

void load_table(const toml::table& root, const std::string& source, Config& config) {
  Config updated = config;
  Loader loader(root, source);
  describe_config(updated, loader);
  loader.finish();
  config = std::move(updated);
}

}  // namespace

void load_config_text(std::string_view text, const std::string& source, Config& config) {
  load_table(parse_toml(text, source), source, config);
}

void load_config_file(const fs::path& path, Config& config) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    fail(ErrorKind::kUsage, "cannot read config file: {}", e.what());
  }
  load_config_text(text, path.string(), config);
}

void apply_config_override(std::string_view assignment, Config& config) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    fail(ErrorKind::kUsage, "--set '{}': expected section.key=value", assignment);
  }
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
  };
  const std::string key = trim(assignment.substr(0, eq));
  const std::string value = trim(assignment.substr(eq + 1));
  if (key.find('.') == std::string::npos) {
    fail(ErrorKind::kUsage, "--set '{}': expected a dotted key such as runtime.threads", assignment);
  }
  // TOML accepts dotted keys, so "runtime.threads = 4" is a complete document. A value that is
  // not valid TOML (a bare word such as debug) is taken as a string.
  const std::string source = "--set " + key;
  toml::table root;
  try {
    root = toml::parse(key + " = " + value, source);
  } catch (const toml::parse_error&) {
    root = parse_toml(key + " = " + quote(value), source);
  }
  load_table(root, source, config);
}

std::string config_to_toml(const Config& config) {
  Config copy = config;
  TomlWriter writer;
  describe_config(copy, writer);
  return "# Lethe configuration (resolved: every key, with its value in effect).\n\n" + writer.out;
}

std::string config_reference_markdown() {
  Config defaults;
  DocWriter writer;
  describe_config(defaults, writer);
  return "# Configuration reference\n\n"
         "<!-- Generated by `lethe config docs`; a test checks it matches the code. -->\n\n"
         "Lethe reads TOML. Precedence, lowest first: built-in defaults, the workspace's "
         "`lethe.toml` (written by `lethe init`), `--config FILE`, `--set section.key=value` "
         "(repeatable; the value is TOML, bare words are strings), then dedicated flags "
         "(`--threads`, `--device`, `--log-level`). Unknown keys, wrong types and out-of-range values are "
         "errors naming the file, line and key (exit code 2).\n" +
         writer.out;
}

bool operator==(const Config& a, const Config& b) { return config_to_toml(a) == config_to_toml(b); }

}  // namespace lethe
