#include "src/workspace/schema.h"

namespace lethe {

const std::vector<Migration>& index_migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       // Workspace identity and provenance: workspace_id, created_at, created_by.
       "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"},
  };
  return kMigrations;
}

}  // namespace lethe
