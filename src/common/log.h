// Logger construction. There is no global logger: main() builds one and passes it down.
#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace lethe {

// Parses "trace|debug|info|warn|error|off"; anything else is a usage error naming `where`.
int parse_log_level(const std::string& name, const std::string& where);

// A logger writing to stderr: plain lines, or JSON lines ({"event":"log",...}) when `json`.
// `rank` >= 0 prefixes lines with the MPI rank.
std::shared_ptr<spdlog::logger> make_logger(int level, bool json, int rank = -1);

}  // namespace lethe
