// lethe lineage: where a record (or every record of an owner) lives, and what it influenced.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/index/lineage_index.h"
#include "src/cli/context.h"
#include "src/common/error.h"
#include "src/workspace/workspace.h"

namespace lethe {

namespace {

nlohmann::json location_json(const RecordLocation& r) {
  nlohmann::json components = nlohmann::json::array();
  for (const auto& c : r.components) {
    components.push_back({{"component_id", c.component_id}, {"kind", c.kind}, {"shard", c.shard},
                          {"prefix", c.prefix}, {"status", c.status}, {"slice_hash", c.slice_hash}});
  }
  return {{"id", r.id},
          {"owner", r.owner},
          {"status", r.deleted ? "deleted" : "live"},
          {"label", r.label},
          {"label_name", r.label_name},
          {"split", r.slice.kind},
          {"shard", r.slice.shard},
          {"slice", r.slice.slice},
          {"row", r.row},
          {"file", r.slice.file},
          {"slice_hash", r.slice.hash},
          {"components", components}};
}

std::string location_text(const RecordLocation& r) {
  std::string where = r.slice.kind == "train"
                          ? fmt::format("shard {} slice {}", r.slice.shard, r.slice.slice)
                          : r.slice.kind + " split";
  std::string s = fmt::format("{}  owner {}  label {} ({})  {}\n  {}  row {}  file {}\n",
                              r.id, r.owner, r.label, r.label_name, r.deleted ? "DELETED" : "live",
                              where, r.row, r.slice.file);
  if (r.components.empty()) {
    s += "  seen by no trained component\n";
  } else {
    s += fmt::format("  seen by {} components:\n", r.components.size());
    for (const auto& c : r.components) {
      s += fmt::format("    #{} {} shard {} prefix [{}] {}\n", c.component_id, c.kind, c.shard,
                       c.prefix, c.status);
    }
  }
  return s;
}

void run_lineage(Context& ctx, const std::string& id, const std::string& owner) {
  if (id.empty() == owner.empty()) fail(ErrorKind::kUsage, "give exactly one of --id or --owner");
  Workspace ws = open_workspace(ctx.options.workspace);
  std::vector<RecordLocation> found;
  if (!id.empty()) {
    auto r = find_record(ws.db, id, ws.audit);
    if (!r) fail(ErrorKind::kNotFound, "no record with ID '{}' in workspace '{}'", id, ws.root.string());
    found.push_back(std::move(*r));
  } else {
    found = find_owner(ws.db, owner, ws.audit);
    if (found.empty()) {
      fail(ErrorKind::kNotFound, "no records of owner '{}' in workspace '{}'", owner, ws.root.string());
    }
  }
  nlohmann::json records = nlohmann::json::array();
  std::string text;
  if (!owner.empty()) text = fmt::format("owner {}: {} records\n", owner, found.size());
  for (const auto& r : found) {
    records.push_back(location_json(r));
    text += location_text(r);
  }
  nlohmann::json j = {{"records", records}};
  if (!owner.empty()) j["owner"] = owner;
  ctx.out.result(j, text);
}

}  // namespace

void add_lineage_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "lineage",
      "Show where a record lives (split, shard, slice, row, file and its hash), its status, "
      "and every trained component that has seen it");
  auto id = std::make_shared<std::string>();
  auto owner = std::make_shared<std::string>();
  cmd->add_option("--id", *id, "Record ID");
  cmd->add_option("--owner", *owner, "Owner ID: every record of this owner");
  commands.push_back({cmd, [=](Context& ctx) { run_lineage(ctx, *id, *owner); }});
}

}  // namespace lethe
