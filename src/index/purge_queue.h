// The index side of a purge: the slices a forget queued because their files still hold deleted
// records' bytes, and the one edit that records a slice's rewrite. purge_pending
// (src/workspace/purge.h) rewrites the files and calls these; forget queues.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/sqlite_db.h"

namespace lethe {

// Deleted records whose bytes are still in their slice's file (their row is not purged yet).
int64_t unpurged_deleted_count(Db& db, int64_t slice_id);

// After records of the slice were marked deleted: its live count becomes its file's rows less
// the deleted ones, and it waits for its purge (queued once however often).
void queue_purge(Db& db, int64_t slice_id);

// The slices waiting for their purge, ascending, and how many.
std::vector<int64_t> queued_purges(Db& db);
int64_t queued_purge_count(Db& db);

// Whether a deletion is left to finish in the index: slices queued for purge, or requests not
// yet marked 'purged'.
bool purge_or_request_open(Db& db);

// The slice's file now is `file` (`hash`, `bytes`), holding `kept` records: its deleted
// records have left it. Remembers the last version of the slice that held them (lineage, see
// lineage_schema) and the row numbers they leave (purged_rows: kept records keep their
// numbers), and takes the slice off the queue. Touches only the deleted records' rows, however
// large the slice or the table. Inside the caller's transaction.
void record_slice_purge(Db& db, int64_t slice_id, const std::string& file, const std::string& hash, uint64_t bytes,
                        uint64_t kept);

// Deleted records a component trained on version `version` of the slice has seen: those still
// in the file, and those purged from it after that version (the last version that held them is
// `version` or later).
int64_t deleted_records_seen(Db& db, int64_t slice_id, int64_t version);

}  // namespace lethe
