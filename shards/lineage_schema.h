// The lineage index schema (lineage.db), as an ordered list of migrations. Never edit a
// released migration: add a new one, so that existing workspaces upgrade in place.
#pragma once

#include <vector>

#include "src/common/sqlite_db.h"

namespace lethe {

const std::vector<Migration>& index_migrations();

}  // namespace lethe
