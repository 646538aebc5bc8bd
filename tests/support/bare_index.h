// A bare lineage index for unit tests of src/index: the schema in a temporary directory, and
// train records loaded into slices straight through the index functions (no slice files, no
// ingest), for tests of the index's own rules.
#pragma once

#include <cstdint>
#include <string>

#include "src/common/sqlite_db.h"
#include "src/data/records.h"
#include "tests/support/temp_dir.h"

namespace lethe::test {

// lineage.db in `dir`, migrated to the current schema.
Db open_bare_index(const TempDir& dir);

// `n` train records <prefix>0..<prefix>(n-1), owner-<i % owners>, payload "x", label i % 2.
RecordBatch train_batch(const std::string& prefix, int n, int owners);

// Inserts `b` into one new train slice (shard, slice), rows 0.. in order, labels "cat" and
// "dog"; returns the slice's id.
int64_t load_train_slice(Db& db, const RecordBatch& b, int shard, int slice);

}  // namespace lethe::test
