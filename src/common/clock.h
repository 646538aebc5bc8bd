// Wall-clock time as the workspace records it: UTC, ISO 8601, to the second (the same format
// as SQLite's strftime('%Y-%m-%dT%H:%M:%SZ', 'now') in the index).
#pragma once

#include <string>

namespace lethe {

// Now, as "2026-11-29T07:44:58Z".
std::string utc_timestamp();

}  // namespace lethe
