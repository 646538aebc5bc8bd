// Sets and counts of records by status (live, deleted) and split, as commands outside the index
// ask for them: the audit's deleted records, retraining's deletions per shard, the deletion
// replay's live train records, DP's privacy units. Deleted records are held under their keyed
// names (seal_deleted_record), so IDs and owners read here are keyed names for those.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/common/sqlite_db.h"

namespace lethe {

// The largest record key given so far (0 before any record).
int64_t max_rid(Db& db);

// Whether the index holds the record named `id` (for a deleted record, its keyed name) as deleted.
bool holds_deleted(Db& db, const std::string& id);

// Every deleted record, (rid, stored ID), by rid.
std::vector<std::pair<int64_t, std::string>> deleted_records(Db& db);

// Deleted train records per shard (shards without any are absent).
std::map<int, int64_t> deleted_train_records_per_shard(Db& db);

// Every deleted train record's stored (keyed) ID and its shard.
std::vector<std::pair<std::string, int>> deleted_train_ids(Db& db);

struct LiveTrainRecord {
  std::string owner;
  int shard = 0, slice = 0;
};
// The live train records by rid: owner and cell.
std::vector<LiveTrainRecord> live_train_records(Db& db);

// Live train records, or their distinct owners when `by_owner`.
int64_t live_train_count(Db& db, bool by_owner);

// Owners all of whose records are live train records, sorted.
std::vector<std::string> owners_with_only_live_train_records(Db& db);

}  // namespace lethe
