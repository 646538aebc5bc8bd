// lethe find --text: the live records whose payload contains a string, e.g. other people's
// mails that quote someone being forgotten. The string is personal data: it is never logged,
// stored or printed, and `--text -` reads it from stdin so it stays out of process listings
// and shell history.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>

#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/unlearning/mentions.h"

namespace lethe {

namespace {

// `-`: all of stdin, without its final line break.
std::string text_to_find(const std::string& given) {
  if (given != "-") return given;
  std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

void run_find(Context& ctx, const std::string& given) {
  Workspace ws = open_workspace(ctx.options.workspace);
  const std::vector<Mention> found = records_mentioning(ws, text_to_find(given));
  nlohmann::json records = nlohmann::json::array();
  std::string text = fmt::format("{} live record{} contain{} the text", found.size(), found.size() == 1 ? "" : "s",
                                 found.size() == 1 ? "s" : "");
  for (const Mention& m : found) {
    records.push_back({{"id", m.id}, {"owner", m.owner}, {"split", m.split}, {"shard", m.shard}, {"slice", m.slice}});
    text += "\n  " + m.id + "  owner " + m.owner + "  " +
            (m.split == "train" ? fmt::format("shard {} slice {}", m.shard, m.slice) : m.split + " split");
  }
  if (!found.empty()) text += "\n(review them; 'lethe forget --id ...' deletes the ones the request should cover)";
  ctx.out.result({{"count", found.size()}, {"records", records}}, text);
}

}  // namespace

void add_find_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "find",
      "List the live records whose text payload contains a string (case sensitive), e.g. other people's "
      "records that quote an owner being forgotten: an owner-level forget removes only the owner's own "
      "records. The string is never logged or stored");
  auto text = std::make_shared<std::string>();
  cmd->add_option("--text", *text, "The string to find; '-' reads it from stdin (keeps it out of process "
                  "listings and shell history)")->required();
  commands.push_back({cmd, [text](Context& ctx) { run_find(ctx, *text); }});
}

}  // namespace lethe
