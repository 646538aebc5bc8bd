// Deletion requests in the index: the records a request names, the two edits of a forget
// (record_deletion: the records' side; deactivate_for_request: the components' side), the
// reads of requests, and their close once purged. These are the one path that edits the index
// for a deletion: commit_forget (src/unlearning/forget.h) decides what to delete and switch off
// and calls them in its transaction; purge_pending closes the requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/common/sqlite_db.h"
#include "src/index/ledger.h"

namespace lethe {

// A record a request names, as the index holds it.
struct NamedRecord {
  int64_t rid = 0;
  int64_t slice_id = 0;
  bool deleted = false;
};

enum class NameField { kId, kOwner };

// The records whose ID (or owner) is `name`: live ones under the plain name, deleted ones under
// its keyed name (found only when `keys` holds the ID secret).
std::vector<NamedRecord> records_named(Db& db, const AuditKeys& keys, NameField field, const std::string& name);

// The records' side of a deletion, in the caller's transaction: marks the live ones of `rids`
// deleted, seals every one of them (seal_deleted_record), queues `slices` (those that held the
// newly deleted records) for purge, and records the request with its records. `request_id` and
// `reason` are as stored (stored_request_text). A request that left no bytes to purge (no
// slices) is recorded 'purged', otherwise 'committed'.
struct RecordedDeletion {
  int64_t deleted = 0;                 // records this request deleted (the others were before)
  std::vector<std::string> keyed_ids;  // every record's keyed ID hash, in the order of `rids`
};
RecordedDeletion record_deletion(Db& db, const AuditKeys& keys, const std::string& request_id,
                                 const std::string& reason, const std::vector<int64_t>& rids,
                                 const std::vector<int64_t>& slices);

// The components' side: switches them off (set_component_status 'deactivated') and links
// them to the request that did it, in one call, so a component is never off without its request.
void deactivate_for_request(Db& db, const std::string& request_id, const std::vector<int64_t>& component_ids);

struct RequestRow {
  int64_t seq = 0;
  std::string request_id;  // as stored (keyed)
  std::string created_at;
  std::string reason;      // as stored (keyed)
  int64_t deleted = 0;
  std::string status;      // committed | purged
};

std::optional<RequestRow> request_row(Db& db, const std::string& stored_request_id);
// The newest `limit` requests, newest first.
std::vector<RequestRow> recent_requests(Db& db, int64_t limit);

// Once no slice waits for its purge: marks every 'committed' request 'purged' and returns
// their IDs, oldest first (none while a slice still waits).
std::vector<std::string> close_purged_requests(Db& db);

}  // namespace lethe
