// Purge: the second half of a deletion. `lethe forget` commits the deletion (records marked,
// components deactivated, slices queued in pending_purges) and acknowledges; the purge then
// rewrites each queued slice file without its deleted records (a new content-addressed file,
// switched to in one transaction that touches only the deleted records' rows: kept records keep
// their row numbers) and removes the old file and the checkpoints of deactivated components.
// Last, the index's write-ahead log is copied into the database and truncated, so that no old
// page image keeps a deleted record's plain ID or owner; only then are the requests marked
// 'purged'. A crash anywhere, or a reader that holds the log, leaves the queue non-empty or the
// requests 'committed', and the next writer (every open_workspace_for_write) finishes the purge.
#pragma once

#include <string>
#include <vector>

#include "src/workspace/workspace.h"

namespace lethe {

struct PurgedSlice {
  int64_t slice_id = 0;
  std::string old_hash;
  std::string new_hash;
  uint64_t removed_records = 0;
  uint64_t records_before = 0;  // rows of the old file
  double seconds = 0;           // read, rewrite and commit of this slice
};

struct PurgeReport {
  std::vector<PurgedSlice> slices;
  size_t files_removed = 0;  // old slice files and deactivated components' checkpoints
  size_t retokenized = 0;    // slices encoded again with a new tokenizer (src/workspace/tokenizer_store.h)
  // False when a reader kept the write-ahead log from being truncated: the purge is not
  // finished (its requests stay 'committed', certificates are refused) until a later writer
  // truncates it.
  bool finished = true;
};

// Purges every queued slice, then, when a deletion switched the SentencePiece tokenizer off,
// trains its replacement and encodes the slices again. The caller holds the write lock.
PurgeReport purge_pending(Workspace& ws);

// A deletion has not finished: slices wait for their purge, the tokenizer for its replacement,
// or acknowledged requests for the write-ahead log's truncation.
bool deletion_unfinished(Workspace& ws);

}  // namespace lethe
