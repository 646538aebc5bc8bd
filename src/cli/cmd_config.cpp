// lethe config show | docs: inspect the configuration.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <sstream>

#include "src/cli/context.h"

namespace lethe {

namespace {

nlohmann::json config_as_json(const Config& config) {
  std::ostringstream json;
  json << toml::json_formatter{toml::parse(config_to_toml(config))};
  return nlohmann::json::parse(json.str());
}

}  // namespace

void add_config_commands(CLI::App& root, std::vector<Command>& commands) {
  auto* group = root.add_subcommand("config", "Inspect the configuration");
  group->require_subcommand(1);

  auto* show = group->add_subcommand(
      "show",
      "Print the resolved configuration (defaults, the workspace's lethe.toml, --config, --set "
      "and flags, in that order) as TOML, or as JSON with --json");
  commands.push_back({show, [](Context& ctx) {
                        ctx.out.result({{"config", config_as_json(ctx.config)}},
                                       config_to_toml(ctx.config));
                      }});

  auto* docs = group->add_subcommand(
      "docs", "Print the reference of every configuration key as Markdown (docs/config.md)");
  commands.push_back({docs, [](Context& ctx) {
                        const std::string md = config_reference_markdown();
                        ctx.out.result({{"markdown", md}}, md);
                      }});
}

}  // namespace lethe
