// The fortune cookie files of Debian's fortunes packages: text records with real authors, so
// "forget everything by Mark Twain" is a natural owner-level request.
#include <algorithm>
#include <iterator>

#include "src/common/error.h"
#include "src/data/source_util.h"
#include "src/data/sources.h"

namespace lethe {
namespace {

// Category files: regular files only. The *.u8 symlinks point at the same files, *.dat are
// strfile indexes, and subdirectories (e.g. off/) hold other collections.
std::vector<std::string> list_categories(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fail(ErrorKind::kNotFound, "fortunes directory '{}' not found (install Debian's fortunes "
         "packages or set data.path)", dir.string());
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".dat") == 0) continue;
    if (!fs::is_regular_file(entry.symlink_status())) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

struct FortuneParser {
  const std::string& category;
  const fs::path& path;
  int32_t label;
  RecordBatch& batch;
  std::vector<std::string_view> lines;  // reused per record
  std::string text, owner, id;

  // One fortune: the lines between two "%" separators; `index` is its position in the file.
  void add(size_t index) {
    size_t end = lines.size();
    while (end > 0 && trim_ascii(lines[end - 1]).empty()) --end;
    owner.clear();
    bool attributed = false;
    if (end > 0) {
      const std::string_view last = trim_ascii(lines[end - 1]);
      if (last.substr(0, 2) == "--") {
        attributed = true;
        append_collapsed(last.substr(2), owner);
        --end;
      }
    }
    text.clear();
    for (size_t i = 0; i < end; ++i) append_collapsed(lines[i], text);
    if (text.empty()) return;
    id.clear();
    fmt::format_to(std::back_inserter(id), "{}-{:05d}", category, index);
    if (!attributed || owner.empty()) {
      owner.clear();
      fmt::format_to(std::back_inserter(owner), "anonymous-{}-{}", category, index);
    }
    if (!is_valid_utf8(owner)) {
      fail(ErrorKind::kInput, "fortunes file '{}': the author of fortune {} is not valid UTF-8",
           path.string(), index);
    }
    batch.ids.push(id);
    batch.owners.push(owner);
    batch.payloads.push(text);
    batch.labels.push_back(label);
    batch.splits.push_back(Split::kTrain);
  }

  void parse(std::string_view content) {
    size_t index = 0, pos = 0;
    lines.clear();
    while (pos < content.size()) {
      size_t nl = content.find('\n', pos);
      if (nl == std::string_view::npos) nl = content.size();
      std::string_view line = content.substr(pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line == "%") {
        add(index++);
        lines.clear();
      } else {
        lines.push_back(line);
      }
    }
    add(index);  // the text after the last separator (usually nothing)
  }
};

}  // namespace

SourceData read_fortunes(const FortunesOptions& options) {
  const std::vector<std::string> available = list_categories(options.dir);
  std::vector<std::string> categories = available;
  if (!options.categories.empty()) {
    categories = options.categories;
    std::sort(categories.begin(), categories.end());
    categories.erase(std::unique(categories.begin(), categories.end()), categories.end());
    for (const auto& name : categories) {
      if (!std::binary_search(available.begin(), available.end(), name)) {
        fail(ErrorKind::kUsage, "unknown fortunes category '{}' in '{}' (available: {})", name,
             options.dir.string(), join(available));
      }
    }
  }

  SourceData out;
  out.label_names = categories;
  RecordBatch& batch = out.records;
  batch.payload_kind = PayloadKind::kText;
  batch.payload_type = PayloadType::kU8;
  for (size_t c = 0; c < categories.size(); ++c) {
    const fs::path path = options.dir / categories[c];
    // The category name becomes the label name and part of every record ID.
    if (!is_valid_utf8(categories[c])) {
      fail(ErrorKind::kInput, "fortunes file name '{}' is not valid UTF-8", path.string());
    }
    const std::string content = read_file(path);
    FortuneParser parser{categories[c], path, static_cast<int32_t>(c), batch, {}, {}, {}, {}};
    parser.parse(content);
  }
  return out;
}

}  // namespace lethe
