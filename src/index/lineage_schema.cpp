#include "src/index/lineage_schema.h"

namespace lethe {

const std::vector<Migration>& index_migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       // Workspace identity and provenance: workspace_id, created_at, created_by, origin.
       "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"},
      {2,
       // The data plan and where every record lives.
       //  - labels: label value -> name.
       //  - slices: one row per slice file: a (shard, slice) cell of the plan, or the public or
       //    test split (shard = slice = -1). `file` is relative to the workspace; files are
       //    content-addressed and immutable, so a rewrite (append, purge) is a new file and
       //    this row switches to it in the same transaction.
       //  - records: every record, its slice and row in that slice's file, and its status.
       //  - components: everything trained (S3T nodes, baselines, bases), with the status that
       //    decides whether it may serve.
       //  - component_slices: the lineage edges: each slice a component has seen, at the hash
       //    it had then.
       R"sql(
CREATE TABLE labels (label INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE slices (
  slice_id INTEGER PRIMARY KEY,
  kind     TEXT    NOT NULL CHECK (kind IN ('train', 'public', 'test')),
  shard    INTEGER NOT NULL,
  slice    INTEGER NOT NULL,
  file     TEXT    NOT NULL UNIQUE,
  hash     TEXT    NOT NULL,
  bytes    INTEGER NOT NULL,
  records  INTEGER NOT NULL,
  live     INTEGER NOT NULL,
  UNIQUE (kind, shard, slice)
);
CREATE TABLE records (
  rid      INTEGER PRIMARY KEY,
  id       TEXT    NOT NULL,
  owner    TEXT    NOT NULL,
  slice_id INTEGER NOT NULL REFERENCES slices (slice_id),
  row      INTEGER NOT NULL,
  label    INTEGER NOT NULL,
  status   INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1))
);
-- Covers the lookups that forget and lineage make (where is record X, is it live) without a
-- second B-tree search in the table: 100,000 random lookups at 10 million records take
-- 0.5 s instead of 1.0 s. Not UNIQUE because SQLite has no INCLUDE columns and a second index
-- on id would cost another ~12 s at 10 million records; ingest refuses duplicate IDs, naming
-- them, before it inserts anything.
CREATE INDEX records_id ON records (id, slice_id, row, status);
CREATE INDEX records_owner ON records (owner);
CREATE TABLE components (
  component_id INTEGER PRIMARY KEY,
  kind         TEXT    NOT NULL,
  shard        INTEGER,
  prefix       TEXT,
  file         TEXT,
  hash         TEXT,
  status       TEXT    NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'deactivated')),
  created_at   TEXT    NOT NULL
);
CREATE TABLE component_slices (
  component_id INTEGER NOT NULL REFERENCES components (component_id),
  slice_id     INTEGER NOT NULL REFERENCES slices (slice_id),
  slice_hash   TEXT    NOT NULL,
  PRIMARY KEY (component_id, slice_id)
) WITHOUT ROWID;
CREATE INDEX component_slices_slice ON component_slices (slice_id);
)sql"},
      {3,
       // Deletion requests (lethe forget) and what training costs.
       //  - requests: one row per acknowledged request, `seq` in acknowledgement order;
       //    `deleted` counts the records it deleted (already-deleted ones excluded); status
       //    'committed' until every slice it touched has been rewritten, then 'purged'.
       //  - request_records / request_components: what it deleted and deactivated.
       //  - pending_purges: slices holding deleted records' bytes, to rewrite. Filled in the
       //    forget transaction, emptied by the purge (or by recovery after a crash).
       //  - records_deleted: the deleted rows of each slice, a small partial index, so that the
       //    live rows of a slice are its rows minus these without scanning the table.
       //  - component_costs: records processed (all epochs) and wall time of each trained node.
       //    Kept here, not in the checkpoint, whose bytes must not depend on timing.
       //  - training_runs: one row per finished train or retrain job; `requests_seq` is the last
       //    request acknowledged when it started, `nodes_pending` what it left untrained.
       //  - slice_versions: every content a slice has had, numbered from 0; kept by triggers, so
       //    that no code path can change a slice without its history. purged_records: for each
       //    deleted record purged from its slice, the last version that held it. Together they
       //    make lineage exact: a component saw a purged record only if its edge names a
       //    version up to that one.
       R"sql(
CREATE TABLE requests (
  seq        INTEGER PRIMARY KEY,
  request_id TEXT    NOT NULL UNIQUE,
  created_at TEXT    NOT NULL,
  reason     TEXT    NOT NULL,
  deleted    INTEGER NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('committed', 'purged'))
);
CREATE TABLE request_records (
  request_id TEXT    NOT NULL REFERENCES requests (request_id),
  rid        INTEGER NOT NULL REFERENCES records (rid),
  PRIMARY KEY (request_id, rid)
) WITHOUT ROWID;
CREATE TABLE request_components (
  request_id   TEXT    NOT NULL REFERENCES requests (request_id),
  component_id INTEGER NOT NULL REFERENCES components (component_id),
  PRIMARY KEY (request_id, component_id)
) WITHOUT ROWID;
CREATE TABLE pending_purges (slice_id INTEGER PRIMARY KEY REFERENCES slices (slice_id));
CREATE INDEX records_deleted ON records (slice_id, row) WHERE status = 1;
CREATE TABLE component_costs (
  component_id INTEGER PRIMARY KEY REFERENCES components (component_id),
  samples      INTEGER NOT NULL,
  seconds      REAL    NOT NULL
);
CREATE TABLE training_runs (
  run_id        INTEGER PRIMARY KEY,
  command       TEXT    NOT NULL CHECK (command IN ('train', 'retrain')),
  mode          TEXT    NOT NULL,
  started_at    TEXT    NOT NULL,
  finished_at   TEXT    NOT NULL,
  ranks         INTEGER NOT NULL,
  requests_seq  INTEGER NOT NULL,
  nodes_trained INTEGER NOT NULL,
  nodes_reused  INTEGER NOT NULL,
  nodes_pending INTEGER NOT NULL,
  samples       INTEGER NOT NULL,
  seconds       REAL    NOT NULL
);
CREATE TABLE slice_versions (
  slice_id INTEGER NOT NULL REFERENCES slices (slice_id),
  version  INTEGER NOT NULL,
  hash     TEXT    NOT NULL,
  PRIMARY KEY (slice_id, version)
) WITHOUT ROWID;
CREATE INDEX slice_versions_hash ON slice_versions (slice_id, hash);
INSERT INTO slice_versions (slice_id, version, hash) SELECT slice_id, 0, hash FROM slices;
CREATE TRIGGER slice_first_version AFTER INSERT ON slices BEGIN
  INSERT INTO slice_versions (slice_id, version, hash) VALUES (NEW.slice_id, 0, NEW.hash);
END;
CREATE TRIGGER slice_next_version AFTER UPDATE OF hash ON slices WHEN NEW.hash IS NOT OLD.hash BEGIN
  INSERT INTO slice_versions (slice_id, version, hash)
    SELECT NEW.slice_id, COALESCE(MAX(version), -1) + 1, NEW.hash FROM slice_versions WHERE slice_id = NEW.slice_id;
END;
CREATE TABLE purged_records (
  rid          INTEGER PRIMARY KEY REFERENCES records (rid),
  slice_id     INTEGER NOT NULL,
  last_version INTEGER NOT NULL
);
)sql"},
      {4,
       // The audit ledger: one row per event, in the transaction of the change it records.
       // `hash` = BLAKE2b-256 over the previous entry's hash and this entry's fields, so the
       // rows form a chain; `signature` is the workspace's Ed25519 signature of `hash`. The
       // newest (seq, hash) is also kept in meta ("ledger.head"), so that removing the last
       // rows is detected too (src/audit/ledger.h).
       R"sql(
CREATE TABLE ledger (
  seq       INTEGER PRIMARY KEY,
  at        TEXT    NOT NULL,
  event     TEXT    NOT NULL,
  payload   TEXT    NOT NULL,
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL,
  signature TEXT    NOT NULL
);
)sql"},
      {5,
       // DP2Unlearning: the guarantee a differentially private component carries. Such a
       // component may stay live after a deletion of data it saw, because what it reveals of any
       // privacy unit (a record, or an owner with all their records) is bounded by
       // (epsilon, delta); `requests_seq` and `max_rid` fix what it was trained on, so that the
       // units deleted since can be counted for group privacy (src/index/component_privacy.h).
       R"sql(
CREATE TABLE component_privacy (
  component_id     INTEGER PRIMARY KEY REFERENCES components (component_id),
  unit             TEXT    NOT NULL CHECK (unit IN ('record', 'owner')),
  units            INTEGER NOT NULL,
  epsilon          REAL    NOT NULL,
  delta            REAL    NOT NULL,
  accountant       TEXT    NOT NULL,
  noise_multiplier REAL    NOT NULL,
  sample_rate      REAL    NOT NULL,
  steps            INTEGER NOT NULL,
  max_grad_norm    REAL    NOT NULL,
  requests_seq     INTEGER NOT NULL,
  max_rid          INTEGER NOT NULL
);
)sql"},
      {6,
       // Purges without renumbering. A record's `row` is its number in its slice, given once by
       // ingest and never changed: the first file holds rows 0..n-1, an append continues the
       // numbering, and a purge leaves the numbers of the kept records as they were. Renumbering
       // touched every kept row of the slice (and its entry in records_id), so forgetting one
       // owner cost time in proportion to the slice times the table. purged_rows holds the row
       // numbers a purge removed from each slice's file; a row's position in the current file is
       // its number minus the purged numbers below it (live_rows, row_position). Rows purged
       // before this migration were renumbered then, so their slices need no entries here.
       R"sql(
CREATE TABLE purged_rows (
  slice_id INTEGER NOT NULL REFERENCES slices (slice_id),
  row      INTEGER NOT NULL,
  PRIMARY KEY (slice_id, row)
) WITHOUT ROWID;
)sql"},
  };
  return kMigrations;
}

const std::vector<IndexDefinition>& records_indexes() {
  static const std::vector<IndexDefinition> kIndexes = {
      {"records_id", "CREATE INDEX records_id ON records (id, slice_id, row, status)"},
      {"records_owner", "CREATE INDEX records_owner ON records (owner)"},
  };
  return kIndexes;
}

}  // namespace lethe
