// WordNet's database files (Debian's wordnet-base, wndb(5)): one record per synset, its text
// the synset's words and gloss, its label the lexicographer file that holds it (noun.food,
// verb.motion, ...: WordNet's 45 supersenses), its owner the synset's first word.
//
// Why it suits Lethe's text path: real English written by lexicographers, labels assigned by
// them rather than derived from the text, short texts (most glosses fit 64 WordPiece tokens,
// so a pretrained encoder runs in minutes on 2 cores), and an owner that makes a natural
// request: "forget the word 'bank'" removes every sense headed by it, across categories.
#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>

#include "src/common/error.h"
#include "src/data/source_util.h"
#include "src/data/sources.h"

namespace lethe {
namespace {

// The lexicographer files by number, as lexnames(5WN) lists them for WordNet 3.0.
constexpr std::array<const char*, 45> kLexnames = {
    "adj.all",          "adj.pert",           "adv.all",           "noun.Tops",
    "noun.act",         "noun.animal",        "noun.artifact",     "noun.attribute",
    "noun.body",        "noun.cognition",     "noun.communication", "noun.event",
    "noun.feeling",     "noun.food",          "noun.group",        "noun.location",
    "noun.motive",      "noun.object",        "noun.person",       "noun.phenomenon",
    "noun.plant",       "noun.possession",    "noun.process",      "noun.quantity",
    "noun.relation",    "noun.shape",         "noun.state",        "noun.substance",
    "noun.time",        "verb.body",          "verb.change",       "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption",  "verb.contact",
    "verb.creation",    "verb.emotion",       "verb.motion",       "verb.perception",
    "verb.possession",  "verb.social",        "verb.stative",      "verb.weather",
    "adj.ppl"};

// The data file that holds a lexname's synsets: its part of speech.
std::string data_file_of(std::string_view lexname) {
  return "data." + std::string(lexname.substr(0, lexname.find('.')));
}

std::string known_categories() {
  std::string out;
  for (const char* name : kLexnames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <typename T>
bool parse_number(std::string_view s, T& value, int base) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits off the next space-separated field of `rest`.
std::string_view next_field(std::string_view& rest) {
  const size_t space = rest.find(' ');
  const std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return field;
}

struct WordnetParser {
  const fs::path& path;
  const std::vector<int32_t>& label_of_lexnum;  // -1 = category not read
  RecordBatch& batch;
  std::string text, owner, id, word;

  template <typename... Args>
  [[noreturn]] void fail_at(int64_t line, fmt::format_string<Args...> format, Args&&... args) const {
    fail(ErrorKind::kInput, "wordnet file '{}', line {}: {}", path.string(), line,
         fmt::format(format, std::forward<Args>(args)...));
  }

  // A synset line: offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} ... | gloss
  void add(int64_t line_no, std::string_view line) {
    const size_t bar = line.find(" | ");
    if (bar == std::string_view::npos) fail_at(line_no, "no ' | ' before the gloss");
    std::string_view rest = line.substr(0, bar);
    const std::string_view gloss = trim_ascii(line.substr(bar + 3));
    const std::string_view offset = next_field(rest);
    uint32_t lexnum = 0, words = 0, offset_value = 0;
    if (offset.size() != 8 || !parse_number(offset, offset_value, 10)) {
      fail_at(line_no, "synset offset '{}' is not 8 digits", offset);
    }
    if (!parse_number(next_field(rest), lexnum, 10) || lexnum >= kLexnames.size()) {
      fail_at(line_no, "lexicographer file number is not one of 00..{}", kLexnames.size() - 1);
    }
    next_field(rest);  // ss_type: the file already says the part of speech
    if (!parse_number(next_field(rest), words, 16) || words == 0) {
      fail_at(line_no, "word count is not a positive hexadecimal number");
    }
    const int32_t label = label_of_lexnum[lexnum];
    if (label < 0) return;
    text.clear();
    owner.clear();
    for (uint32_t w = 0; w < words; ++w) {
      std::string_view lemma = next_field(rest);
      next_field(rest);  // lex_id
      if (lemma.empty()) fail_at(line_no, "synset lists {} words but has fewer", words);
      // Adjectives may carry a syntactic marker: "(a)", "(p)" or "(ip)".
      if (lemma.back() == ')') lemma = lemma.substr(0, lemma.rfind('('));
      word.assign(lemma.begin(), lemma.end());
      std::replace(word.begin(), word.end(), '_', ' ');
      if (w == 0) owner = word;
      if (!text.empty()) text += ", ";
      text += word;
    }
    text += ':';
    append_collapsed(gloss, text);  // after one space
    if (!is_valid_utf8(text)) fail_at(line_no, "synset text is not valid UTF-8");
    id.clear();
    fmt::format_to(std::back_inserter(id), "{}-{}", kLexnames[lexnum], offset);
    batch.ids.push(id);
    batch.owners.push(owner);
    batch.payloads.push(text);
    batch.labels.push_back(label);
    batch.splits.push_back(Split::kTrain);
  }
};

}  // namespace

SourceData read_wordnet(const WordnetOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec)) {
    fail(ErrorKind::kNotFound, "wordnet directory '{}' not found (install Debian's wordnet-base "
         "package or set data.path)", options.dir.string());
  }
  std::vector<std::string> categories = options.categories;
  if (categories.empty()) categories.assign(kLexnames.begin(), kLexnames.end());
  std::sort(categories.begin(), categories.end());
  categories.erase(std::unique(categories.begin(), categories.end()), categories.end());

  std::vector<int32_t> label_of_lexnum(kLexnames.size(), -1);
  std::vector<std::string> files;  // the data files that hold the chosen categories
  for (size_t c = 0; c < categories.size(); ++c) {
    const auto it = std::find(kLexnames.begin(), kLexnames.end(), categories[c]);
    if (it == kLexnames.end()) {
      fail(ErrorKind::kUsage, "unknown wordnet category '{}' (WordNet's lexicographer files: {})",
           categories[c], known_categories());
    }
    label_of_lexnum[static_cast<size_t>(it - kLexnames.begin())] = static_cast<int32_t>(c);
    files.push_back(data_file_of(categories[c]));
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());

  SourceData out;
  out.label_names = categories;
  RecordBatch& batch = out.records;
  batch.payload_kind = PayloadKind::kText;
  batch.payload_type = PayloadType::kU8;
  for (const std::string& name : files) {
    const fs::path path = options.dir / name;
    InputFile in(path);
    WordnetParser parser{path, label_of_lexnum, batch, {}, {}, {}, {}};
    std::string_view line;
    int64_t line_no = 0;
    while (in.read_line(line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      // The licence header: lines that start with two spaces and a line number.
      if (line.empty() || line[0] == ' ') continue;
      parser.add(line_no, line);
    }
  }
  return out;
}

}  // namespace lethe
