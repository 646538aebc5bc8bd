// The lineage index schema (lineage.db), as an ordered list of migrations. Never edit a
// released migration: add a new one, so that existing workspaces upgrade in place.
#pragma once

#include <vector>

#include "src/common/sqlite_db.h"

namespace lethe {

const std::vector<Migration>& index_migrations();

// The secondary indexes of `records` as the newest migration defines them.
// A bulk load into an empty table drops them and builds them afterwards (a sort instead of
// millions of random B-tree inserts); the newest migration must create exactly these.
struct IndexDefinition {
  const char* name;
  const char* create_sql;
};
const std::vector<IndexDefinition>& records_indexes();

}  // namespace lethe
