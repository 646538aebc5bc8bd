// Reads and writes of the lineage index (lineage.db): where each record lives, which slice
// files exist, and which trained components have seen which slices. Writers call these inside
// a Transaction they own, so that a whole ingest or forget commits or vanishes as one.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/index/ledger.h"
#include "src/common/sqlite_db.h"
#include "src/data/records.h"

namespace lethe {

struct SliceRow {
  int64_t slice_id = 0;
  std::string kind;  // train | public | test
  int shard = -1;
  int slice = -1;
  std::string file;  // relative to the workspace
  std::string hash;
  uint64_t bytes = 0;
  uint64_t records = 0;
  uint64_t live = 0;
};

struct ComponentRef {
  int64_t component_id = 0;
  std::string kind;
  int shard = -1;
  std::string prefix;
  std::string status;      // live | deactivated
  std::string slice_hash;  // the hash of the record's slice when the component saw it
};

struct RecordLocation {
  std::string id;
  std::string owner;
  bool deleted = false;
  int32_t label = 0;
  std::string label_name;
  int64_t row = 0;  // position in its slice's current file; -1 once purged from it
  int64_t rid = 0;  // the index's own key
  SliceRow slice;
  std::vector<ComponentRef> components;  // every component that has seen the record
};

// Key/value facts about the workspace (meta table).
void set_meta(Db& db, const std::string& key, const std::string& value);
std::optional<std::string> get_meta(Db& db, const std::string& key);

std::vector<std::string> label_names(Db& db);
// The index's label values for `names`; a name it does not know yet takes the next free value.
// label_values only computes them (ingest stores them in slice files before its transaction);
// intern_labels also inserts the new names.
std::vector<int32_t> label_values(Db& db, const std::vector<std::string>& names);
std::vector<int32_t> intern_labels(Db& db, const std::vector<std::string>& names);

std::vector<SliceRow> list_slices(Db& db);
// Every workspace file the index refers to: the slice files, the tokenizer model and the
// checkpoints of live components (relative to the workspace).
std::set<std::string> referenced_files(Db& db);
// Switches the slice to another file of the same records (e.g. encoded again).
void set_slice_file(Db& db, int64_t slice_id, const std::string& file, const std::string& hash, uint64_t bytes);

// The public split's slice as it was first written (version 0) and its deleted records: what
// the tokenizer was trained on, and what it has lost since.
struct FirstPublicSlice {
  int64_t slice_id = 0;
  std::string first_hash;
  int64_t deleted = 0;
};
std::optional<FirstPublicSlice> first_public_slice(Db& db);
// Inserts the row, or updates the one with the same (kind, shard, slice); returns its id.
int64_t upsert_slice(Db& db, const SliceRow& row);

// Inserts one row per record of `batch`, in order. `slice_id_of` and `row_of` give each
// record's slice and row; the batch's labels must already be the index's label values.
void insert_records(Db& db, const RecordBatch& batch, const std::vector<int64_t>& slice_id_of,
                    const std::vector<int64_t>& row_of);

// IDs from `ids` that already exist in the index (at most `limit`), live or, when `keys` holds
// the ID secret, deleted (kept under their keyed names).
std::vector<std::string> existing_ids(Db& db, const ByteColumn& ids, size_t limit, const AuditKeys& keys = AuditKeys{});

// Owner -> cell (shard * slices + slice) for every owner with train records.
std::vector<std::pair<std::string, int32_t>> owner_cells(Db& db, int slices);

// A record by ID, and an owner's records; deleted ones too when `keys` holds the ID secret
// (their ID and owner are then the keyed names, see keyed_name).
std::optional<RecordLocation> find_record(Db& db, const std::string& id, const AuditKeys& keys = AuditKeys{});
std::vector<RecordLocation> find_owner(Db& db, const std::string& owner, const AuditKeys& keys = AuditKeys{});

// A trained (or imported) component: the base, an S3T node, a baseline.
struct ComponentRow {
  int64_t component_id = 0;
  std::string kind;    // base | node | ...
  int shard = -1;      // -1 when not tied to a shard
  std::string prefix;  // S3T: the slice prefix, e.g. "2.0.1"
  std::string file;    // relative to the workspace
  std::string hash;
  std::string status = "live";
};

// The position in its slice's current file of the record with row number `row`: the number
// less the purged numbers below it (`purged`: the slice's purged row numbers, ascending). The
// one place this is derived: find_record/find_owner and live_rows both use it.
int64_t row_position(int64_t row, const std::vector<int64_t>& purged);

// Rows (positions in the slice file) of the live records of slice `slice_id`, ascending.
std::vector<uint32_t> live_rows(Db& db, int64_t slice_id);
// The row number the next record appended to the slice gets. Row numbers are stable: a purge
// removes rows from the file without renumbering the rest (migration 6, purged_rows).
int64_t next_row_number(Db& db, int64_t slice_id);

// Inserts a component (created now) and returns its id.
int64_t insert_component(Db& db, const ComponentRow& row);
// Records that `component_id` has seen `slice_id` with content `slice_hash`.
void add_lineage_edge(Db& db, int64_t component_id, int64_t slice_id, const std::string& slice_hash);
// The live components of `kind`, oldest first.
std::vector<ComponentRow> live_components(Db& db, const std::string& kind);
// Every component, live or not, by id.
std::vector<ComponentRow> all_components(Db& db);
std::optional<ComponentRow> component_by_id(Db& db, int64_t component_id);
void set_component_status(Db& db, int64_t component_id, const std::string& status);

// What the index keeps of a deleted record: its ID and owner become their keyed names
// (keyed_name) and its label goes (-1), so that nothing of the record remains readable.
// Returns its ID's keyed hash, as the ledger names it. Inside the caller's transaction.
std::string seal_deleted_record(Db& db, const AuditKeys& keys, int64_t rid);

// A forget request's ID and reason are chosen by people and may name the person ("DSR for
// john@example.com"): the index and the ledger keep them under their keyed names (keyed_name;
// "" stays ""), like a deleted record's ID. find_request finds a request by the plain ID it was
// given, and returns the ID as stored (requests recorded before IDs were keyed are found under
// their plain ID). `keys` must hold the ID secret.
std::string stored_request_text(const AuditKeys& keys, const std::string& plain);
std::optional<std::string> find_request(Db& db, const AuditKeys& keys, const std::string& request_id);

struct SplitCounts {
  std::string kind;
  uint64_t records = 0;
  uint64_t deleted = 0;
  uint64_t owners = 0;
};
std::vector<SplitCounts> split_counts(Db& db);

}  // namespace lethe
