// The documentation against the code. docs/cli-reference.md is what `lethe cli-reference`
// prints from the CLI11 definitions, and every `lethe ...` command line and every --flag that
// README.md, docs/*.md and the folders' READMEs show in code (fenced blocks and backticks)
// names a real command and an option that command, or the global options, accepts; a command
// line shown under mpirun names a command that runs over ranks.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "src/common/fs.h"
#include "tests/support/run_process.h"

using namespace lethe;
using test::run_lethe;

namespace {

const fs::path kSource = LETHE_SOURCE_DIR;

// What the CLI accepts, from `lethe --json cli-reference`.
struct CliModel {
  struct Node {
    bool group = false;
    bool distributed = false;  // runs as one job over the ranks of an mpirun
    std::map<std::string, bool> options;  // name -> takes a value
  };
  std::map<std::string, Node> commands;   // "" = the root, whose options are the global ones

  static CliModel load() {
    const auto r = run_lethe({"--json", "cli-reference"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CliModel m;
    const auto add = [](Node& node, const nlohmann::json& options) {
      for (const auto& o : options) {
        if (o["positional"].get<bool>()) continue;
        for (const auto& n : o["names"]) node.options[n.get<std::string>()] = o["takes_value"].get<bool>();
      }
    };
    add(m.commands[""], j["global_options"]);
    for (const auto& c : j["commands"]) {
      Node& node = m.commands[c["command"].get<std::string>()];
      node.group = c["group"].get<bool>();
      node.distributed = c["distributed"].get<bool>();
      add(node, c["options"]);
    }
    return m;
  }

  bool is_command(const std::string& path) const { return commands.count(path) > 0; }
  static std::string child(const std::string& path, const std::string& word) {
    return path.empty() ? word : path + " " + word;
  }
  // Global options are accepted after any command too (the root falls through).
  const bool* option(const std::string& path, const std::string& flag) const {
    for (const std::string& p : {path, std::string()}) {
      const auto c = commands.find(p);
      if (c == commands.end()) continue;
      const auto o = c->second.options.find(flag);
      if (o != c->second.options.end()) return &o->second;
    }
    return nullptr;
  }
  bool any_command_accepts(const std::string& flag) const {
    return std::any_of(commands.begin(), commands.end(),
                       [&](const auto& c) { return c.second.options.count(flag) > 0; });
  }
};

// A stretch of code in a Markdown file: one line of a fenced block (continuations joined) or
// one inline `span`.
struct Code {
  std::string text;
  int line = 0;
  bool fenced = false;
};

struct Token {
  std::string word;      // without quotes
  bool quoted = false;
};

// Shell-like words; "a b" and 'a b' are one word.
std::vector<Token> tokenize(const std::string& text) {
  std::vector<Token> out;
  Token cur;
  bool in_word = false;
  char quote = 0;
  for (const char ch : text) {
    if (quote) {
      if (ch == quote) {
        quote = 0;
      } else {
        cur.word += ch;
      }
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
      cur.quoted = in_word = true;
    } else if (ch == ' ' || ch == '\t' || ch == '\n') {
      if (in_word) out.push_back(cur);
      cur = {};
      in_word = false;
    } else {
      cur.word += ch;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

// A word with the synopsis brackets around it removed: "[--append]" -> "--append".
std::string bare(std::string w) {
  const size_t first = w.find_first_not_of("[(");
  if (first == std::string::npos) return "";
  w.erase(0, first);
  while (!w.empty() && std::string("]),.:;").find(w.back()) != std::string::npos) w.pop_back();
  return w;
}

// "--mode" from "--mode=s3t" or "--mode", "-o" from "-o"; empty when `w` is no option.
std::string flag_name(const std::string& w) {
  const bool long_flag = w.size() > 2 && w[0] == '-' && w[1] == '-' && std::isalpha(static_cast<unsigned char>(w[2]));
  const bool short_flag = w.size() >= 2 && w[0] == '-' && std::isalpha(static_cast<unsigned char>(w[1])) &&
                          (w.size() == 2 || w[2] == '=');
  if (!long_flag && !short_flag) return "";
  return w.substr(0, w.find_first_of("=|[]"));
}

// The options a word names: "--dataset/--jsonl/--csv" names three.
std::vector<std::string> flag_names(const std::string& w) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= w.size()) {
    const size_t slash = w.find("/-", start);
    const std::string flag = flag_name(w.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (flag.empty()) return {};
    out.push_back(flag);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

// COMMAND, OPTIONS, KEY: a name for something, not a word to type.
bool is_metavariable(const std::string& w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); }) &&
         std::none_of(w.begin(), w.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); });
}

class DocChecker {
 public:
  explicit DocChecker(const CliModel& cli) : cli_(cli) {}

  void check_file(const fs::path& file) {
    file_ = fs::relative(file, kSource).string();
    context_.clear();
    std::istringstream in(read_file(file));
    std::string line, paragraph, fence_line;
    int n = 0, paragraph_line = 0, fence_start = 0;
    bool fenced = false;
    const auto flush = [&] {
      if (!paragraph.empty()) check_inline(paragraph, paragraph_line);
      paragraph.clear();
    };
    while (std::getline(in, line)) {
      ++n;
      if (line.rfind("```", 0) == 0) {
        flush();
        fenced = !fenced;
        continue;
      }
      if (fenced) {
        if (fence_line.empty()) fence_start = n;
        fence_line += line;
        if (!line.empty() && line.back() == '\\') {
          fence_line.pop_back();
          continue;
        }
        check_code({fence_line, fence_start, true});
        fence_line.clear();
        continue;
      }
      if (line.rfind('#', 0) == 0) {
        flush();
        context_.clear();
        const std::vector<Code> spans = inline_spans(line, n);
        for (const Code& span : spans) {
          const std::vector<std::string> named = check_code(span);
          context_.insert(context_.end(), named.begin(), named.end());
        }
        continue;
      }
      if (line.find_first_not_of(" \t") == std::string::npos) {
        flush();
        continue;
      }
      if (paragraph.empty()) paragraph_line = n;
      paragraph += line + "\n";
    }
    flush();
  }

  const std::vector<std::string>& problems() const { return problems_; }
  int command_lines() const { return command_lines_; }
  int flags() const { return flags_; }

 private:
  // Inline code spans of a paragraph (which may run over several lines), with their line.
  static std::vector<Code> inline_spans(const std::string& text, int first_line) {
    std::vector<Code> spans;
    int line = first_line;
    size_t i = 0;
    while (i < text.size()) {
      if (text[i] == '\n') ++line;
      if (text[i] != '`') {
        ++i;
        continue;
      }
      const size_t close = text.find('`', i + 1);
      if (close == std::string::npos) break;
      Code c{text.substr(i + 1, close - i - 1), line, false};
      std::replace(c.text.begin(), c.text.end(), '\n', ' ');
      spans.push_back(c);
      line += static_cast<int>(std::count(text.begin() + static_cast<long>(i), text.begin() + static_cast<long>(close), '\n'));
      i = close + 1;
    }
    return spans;
  }

  void check_inline(const std::string& paragraph, int first_line) {
    for (const Code& span : inline_spans(paragraph, first_line)) check_code(span);
  }

  void problem(const Code& code, const std::string& what) {
    problems_.push_back(file_ + ":" + std::to_string(code.line) + ": `" + code.text + "`: " + what);
  }

  // Checks one stretch of code; returns the commands its `lethe` command lines name.
  std::vector<std::string> check_code(const Code& code) {
    const std::vector<Token> tokens = tokenize(code.text);
    std::vector<std::string> named;
    bool invoked = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i].quoted) continue;
      std::string w = tokens[i].word;
      bool in_subshell = false;
      const size_t sub = w.rfind("$(");
      if (sub != std::string::npos) {
        w.erase(0, sub + 2);
        in_subshell = true;
      }
      // `lethe`, `build/lethe` and docs/results.md's `$L` (L=build/lethe).
      const bool lethe = w == "lethe" || w == "$L" || (w.size() > 6 && w.compare(w.size() - 6, 6, "/lethe") == 0);
      if (!lethe) continue;
      invoked = true;
      // The command ends at a separator, or with a word ending in ';' or, inside $(...), ')'.
      size_t end = i + 1;
      while (end < tokens.size() && !ends_command(tokens[end], code.fenced)) {
        const std::string& next = tokens[end++].word;
        if (!tokens[end - 1].quoted && (next.back() == ';' || (in_subshell && next.back() == ')'))) break;
      }
      const std::string path = check_command_line(code, {tokens.begin() + static_cast<long>(i) + 1,
                                                         tokens.begin() + static_cast<long>(end)});
      // `mpirun -np 4 lethe retrain`: only a command that runs over ranks may be shown so.
      if (under_mpirun(tokens, i) && cli_.is_command(path) && !cli_.commands.at(path).distributed) {
        problem(code, "'lethe " + path + "' refuses to run under mpirun");
      }
      named.push_back(path);
      i = end - 1;
    }
    if (invoked || code.fenced || tokens.empty()) return named;
    // `train --from-scratch`: a command line without `lethe`.
    // (Exactly the command's name: `audit: ...` is a test's name, not a command line.)
    const std::string& first = tokens.front().word;
    if (cli_.is_command(first)) {
      check_command_line(code, tokens);
      return named;
    }
    // `--force`, `--with-eval [--deletions K]`: options of the section's command.
    if (flag_name(bare(first)).empty()) return named;  // another program's command line, or prose
    for (const Token& t : tokens) {
      if (t.quoted) continue;
      for (const std::string& flag : flag_names(bare(t.word))) {
        ++flags_;
        const bool ok = context_.empty()
                            ? cli_.option("", flag) || cli_.any_command_accepts(flag)
                            : std::any_of(context_.begin(), context_.end(),
                                          [&](const std::string& c) { return cli_.option(c, flag) != nullptr; });
        if (!ok) {
          problem(code, context_.empty() ? "no command has the option " + flag
                                         : "not an option of this section's command: " + flag);
        }
      }
    }
    return named;
  }

  // Whether the shell command that `lethe` (tokens[at]) belongs to starts with a launcher:
  // mpirun, srun, or docs/results.md's $MPI (MPI="mpirun -np 2 --oversubscribe").
  static bool under_mpirun(const std::vector<Token>& tokens, size_t at) {
    for (size_t j = at; j-- > 0;) {
      const std::string& w = tokens[j].word;
      if (ends_command(tokens[j], true) || (!tokens[j].quoted && w.back() == ';')) return false;
      if (!tokens[j].quoted && (w == "mpirun" || w == "srun" || w == "$MPI")) return true;
    }
    return false;
  }

  static bool ends_command(const Token& t, bool fenced) {
    if (t.quoted) return false;
    const std::string& w = t.word;
    return w == ";" || w == "&&" || w == "||" || w[0] == '#' || (fenced && w == "|");
  }
  // The words after `lethe`: options and values, then the command, then its options.
  std::string check_command_line(const Code& code, const std::vector<Token>& words) {
    ++command_lines_;
    std::string path;
    bool naming = true;  // still reading command words
    for (size_t i = 0; i < words.size(); ++i) {
      const std::string w = bare(words[i].word);
      if (w.empty() || words[i].quoted) continue;
      const std::vector<std::string> flags = flag_names(w);
      for (const std::string& flag : flags) {
        ++flags_;
        const bool* takes_value = cli_.option(path, flag);
        if (!takes_value) {
          problem(code, "'lethe" + (path.empty() ? "" : " " + path) + "' has no option " + flag);
        } else if (*takes_value && flags.size() == 1 && w.find('=') == std::string::npos) {
          ++i;  // its value
        }
      }
      if (flags.empty() && naming) {
        const std::string sub = CliModel::child(path, w);
        if (cli_.is_command(sub)) {
          path = sub;
        } else {
          naming = false;
          if ((path.empty() || cli_.commands.at(path).group) && !is_metavariable(w)) {
            problem(code, path.empty() ? "no command '" + w + "'" : "'lethe " + path + "' has no subcommand '" + w + "'");
          }
        }
      }
    }
    return path;
  }

  const CliModel& cli_;
  std::string file_;
  std::vector<std::string> context_;  // the commands the current section's heading names
  std::vector<std::string> problems_;
  int command_lines_ = 0;
  int flags_ = 0;
};

// README.md, docs/*.md and the READMEs of the folders (two levels deep), sorted.
std::vector<fs::path> documentation_files() {
  std::vector<fs::path> files = {kSource / "README.md"};
  for (const auto& e : fs::directory_iterator(kSource / "docs")) {
    if (e.path().extension() == ".md") files.push_back(e.path());
  }
  for (const auto& top : fs::directory_iterator(kSource)) {
    const std::string name = top.path().filename().string();
    if (!top.is_directory() || name[0] == '.' || name.rfind("build", 0) == 0 || name == "docs") continue;
    if (fs::exists(top.path() / "README.md")) files.push_back(top.path() / "README.md");
    for (const auto& sub : fs::directory_iterator(top.path())) {
      if (sub.is_directory() && fs::exists(sub.path() / "README.md")) files.push_back(sub.path() / "README.md");
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("docs: docs/cli-reference.md is what lethe cli-reference prints", "[docs][cli]") {
  const auto r = run_lethe({"cli-reference"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string committed = read_file(kSource / "docs" / "cli-reference.md");
  if (committed != r.out) {
    const auto want = test::lines_of(r.out), have = test::lines_of(committed);
    size_t i = 0;
    while (i < want.size() && i < have.size() && want[i] == have[i]) ++i;
    FAIL("docs/cli-reference.md is stale: run `make docs`. First difference at line "
         << i + 1 << ":\n  committed: " << (i < have.size() ? have[i] : "(end of file)")
         << "\n  generated: " << (i < want.size() ? want[i] : "(end of file)"));
  }
}

TEST_CASE("docs: every lethe command line and --flag in the docs names a real command and option",
          "[docs][cli]") {
  const CliModel cli = CliModel::load();
  DocChecker checker(cli);
  for (const fs::path& file : documentation_files()) checker.check_file(file);
  std::string report;
  for (const std::string& p : checker.problems()) report += p + "\n";
  INFO(report);
  CHECK(checker.problems().empty());
  // The parser saw the docs' command lines at all (a broken parser would pass vacuously).
  CHECK(checker.command_lines() > 100);
  CHECK(checker.flags() > 200);
}
