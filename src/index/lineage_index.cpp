#include "src/index/lineage_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "src/index/lineage_schema.h"
#include "src/common/error.h"

namespace lethe {

namespace {

constexpr const char* kSliceColumns =
    "s.slice_id, s.kind, s.shard, s.slice, s.file, s.hash, s.bytes, s.records, s.live";

// Reads the kSliceColumns starting at column `c`.
SliceRow read_slice(const Stmt& q, int c) {
  SliceRow s;
  s.slice_id = q.int64(c);
  s.kind = q.text(c + 1);
  s.shard = static_cast<int>(q.int64(c + 2));
  s.slice = static_cast<int>(q.int64(c + 3));
  s.file = q.text(c + 4);
  s.hash = q.text(c + 5);
  s.bytes = static_cast<uint64_t>(q.int64(c + 6));
  s.records = static_cast<uint64_t>(q.int64(c + 7));
  s.live = static_cast<uint64_t>(q.int64(c + 8));
  return s;
}

std::vector<int64_t> row_numbers(Db& db, const char* sql, int64_t slice_id) {
  Stmt q = db.prepare(sql);
  q.bind(1, slice_id);
  std::vector<int64_t> out;
  while (q.step()) out.push_back(q.int64(0));
  return out;
}

// The row numbers a purge removed from the slice's file, ascending.
std::vector<int64_t> purged_row_numbers(Db& db, int64_t slice_id) {
  return row_numbers(db, "SELECT row FROM purged_rows WHERE slice_id = ? ORDER BY row", slice_id);
}

// The records whose `column` is `name` or, when given, its keyed form.
std::vector<RecordLocation> query_records(Db& db, const char* column, const std::string& name, const std::string& keyed) {
  Stmt q = db.prepare(
      "SELECT r.id, r.owner, r.status, r.label, COALESCE(l.name, ''), r.row, r.rid, " +
      std::string(kSliceColumns) +
      " FROM records r JOIN slices s ON s.slice_id = r.slice_id"
      " LEFT JOIN labels l ON l.label = r.label WHERE r." + column + " IN (?1, ?2)" +
      " ORDER BY s.kind, s.shard, s.slice, r.row");
  q.bind(1, name).bind(2, keyed.empty() ? name : keyed);
  std::vector<RecordLocation> out;
  std::map<int64_t, std::vector<int64_t>> purged;  // slice_id -> its purged row numbers
  while (q.step()) {
    RecordLocation r;
    r.id = q.text(0);
    r.owner = q.text(1);
    r.deleted = q.int64(2) != 0;
    r.label = static_cast<int32_t>(q.int64(3));
    r.label_name = q.text(4);
    r.row = q.int64(5);
    r.rid = q.int64(6);
    r.slice = read_slice(q, 7);
    if (r.row >= 0) {
      auto it = purged.find(r.slice.slice_id);
      if (it == purged.end()) it = purged.emplace(r.slice.slice_id, purged_row_numbers(db, r.slice.slice_id)).first;
      r.row = row_position(r.row, it->second);
    }
    out.push_back(std::move(r));
  }
  Stmt c = db.prepare(
      "SELECT c.component_id, c.kind, COALESCE(c.shard, -1), COALESCE(c.prefix, ''), c.status, "
      "cs.slice_hash FROM component_slices cs JOIN components c USING (component_id) "
      "WHERE cs.slice_id = ?1 AND (NOT EXISTS (SELECT 1 FROM purged_records WHERE rid = ?2) OR "
      "  (SELECT MIN(version) FROM slice_versions v WHERE v.slice_id = ?1 AND v.hash = cs.slice_hash) <= "
      "  (SELECT last_version FROM purged_records WHERE rid = ?2)) "
      "ORDER BY c.component_id");
  // A purged record was seen only by components trained on a version of its slice that held
  // it; later versions (after the purge) never did.
  for (RecordLocation& r : out) {
    c.bind(1, r.slice.slice_id).bind(2, r.rid);
    while (c.step()) {
      r.components.push_back({c.int64(0), c.text(1), static_cast<int>(c.int64(2)), c.text(3),
                              c.text(4), c.text(5)});
    }
    c.reset();
  }
  return out;
}

}  // namespace

void set_meta(Db& db, const std::string& key, const std::string& value) {
  db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(1, key)
      .bind(2, value)
      .run();
}

std::optional<std::string> get_meta(Db& db, const std::string& key) {
  Stmt q = db.prepare("SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

std::vector<std::string> label_names(Db& db) {
  std::vector<std::string> names;
  Stmt q = db.prepare("SELECT label, name FROM labels ORDER BY label");
  while (q.step()) {
    if (q.int64(0) != static_cast<int64_t>(names.size())) {
      fail(ErrorKind::kIntegrity, "labels table of '{}' is not dense at label {}",
           db.path().string(), q.int64(0));
    }
    names.push_back(q.text(1));
  }
  return names;
}

std::vector<int32_t> label_values(Db& db, const std::vector<std::string>& names) {
  std::vector<std::string> known = label_names(db);
  std::vector<int32_t> values;
  for (const std::string& name : names) {
    auto it = std::find(known.begin(), known.end(), name);
    if (it == known.end()) {
      known.push_back(name);  // a new name takes the next value
      it = known.end() - 1;
    }
    values.push_back(static_cast<int32_t>(it - known.begin()));
  }
  return values;
}

std::vector<int32_t> intern_labels(Db& db, const std::vector<std::string>& names) {
  const size_t known = label_names(db).size();
  const std::vector<int32_t> values = label_values(db, names);
  Stmt insert = db.prepare("INSERT INTO labels(label, name) VALUES (?, ?)");
  for (size_t i = 0; i < names.size(); ++i) {
    if (static_cast<size_t>(values[i]) >= known) {
      insert.bind(1, int64_t{values[i]}).bind(2, names[i]).run();
      insert.reset();
    }
  }
  return values;
}

std::vector<SliceRow> list_slices(Db& db) {
  Stmt q = db.prepare(std::string("SELECT ") + kSliceColumns +
                      " FROM slices s ORDER BY s.kind = 'train' DESC, s.kind, s.shard, s.slice");
  std::vector<SliceRow> out;
  while (q.step()) out.push_back(read_slice(q, 0));
  return out;
}

std::set<std::string> referenced_files(Db& db) {
  std::set<std::string> referenced;
  Stmt q = db.prepare(
      "SELECT file FROM slices UNION ALL SELECT value FROM meta WHERE key = 'tokenizer.file' "
      "UNION ALL SELECT file FROM components WHERE status = 'live' AND file IS NOT NULL");
  while (q.step()) referenced.insert(q.text(0));
  return referenced;
}

void set_slice_file(Db& db, int64_t slice_id, const std::string& file, const std::string& hash, uint64_t bytes) {
  Stmt up = db.prepare("UPDATE slices SET file = ?, hash = ?, bytes = ? WHERE slice_id = ?");
  up.bind(1, file).bind(2, hash).bind(3, static_cast<int64_t>(bytes)).bind(4, slice_id);
  up.step();
}

std::optional<FirstPublicSlice> first_public_slice(Db& db) {
  Stmt q = db.prepare(
      "SELECT s.slice_id, v.hash, (SELECT COUNT(*) FROM records r WHERE r.slice_id = s.slice_id AND r.status = 1) "
      "FROM slices s JOIN slice_versions v ON v.slice_id = s.slice_id AND v.version = 0 WHERE s.kind = 'public'");
  if (!q.step()) return std::nullopt;
  return FirstPublicSlice{q.int64(0), q.text(1), q.int64(2)};
}

int64_t upsert_slice(Db& db, const SliceRow& row) {
  Stmt q = db.prepare(
      "INSERT INTO slices(kind, shard, slice, file, hash, bytes, records, live) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(kind, shard, slice) DO UPDATE SET "
      "file = excluded.file, hash = excluded.hash, bytes = excluded.bytes, "
      "records = excluded.records, live = excluded.live RETURNING slice_id");
  q.bind(1, row.kind)
      .bind(2, int64_t{row.shard})
      .bind(3, int64_t{row.slice})
      .bind(4, row.file)
      .bind(5, row.hash)
      .bind(6, static_cast<int64_t>(row.bytes))
      .bind(7, static_cast<int64_t>(row.records))
      .bind(8, static_cast<int64_t>(row.live));
  if (!q.step()) fail(ErrorKind::kInternal, "upsert of slice {} returned no id", row.file);
  const int64_t id = q.int64(0);
  while (q.step()) {
  }
  return id;
}

void insert_records(Db& db, const RecordBatch& batch, const std::vector<int64_t>& slice_id_of,
                    const std::vector<int64_t>& row_of) {
  // Into an empty table, build the indexes after the rows: one sort each instead of a random
  // B-tree insert per record (the index stage of a 10-million-record ingest: 52 s -> 30 s).
  // The caller's transaction covers the DDL too, so a failure leaves the indexes as they were.
  bool empty = false;
  {
    Stmt any = db.prepare("SELECT NOT EXISTS (SELECT 1 FROM records)");
    empty = any.step() && any.int64(0) == 1;
  }
  if (empty) {
    for (const auto& index : records_indexes()) db.exec(fmt::format("DROP INDEX {}", index.name));
  }
  {
    Stmt q = db.prepare(
        "INSERT INTO records(id, owner, slice_id, row, label, status) VALUES (?, ?, ?, ?, ?, 0)");
    for (size_t i = 0; i < batch.size(); ++i) {
      q.bind(1, batch.ids.at(i)).bind(2, batch.owners.at(i)).bind(3, slice_id_of[i]);
      q.bind(4, row_of[i]).bind(5, int64_t{batch.labels[i]});
      q.run();
    }
  }
  if (empty) {
    for (const auto& index : records_indexes()) db.exec(index.create_sql);
  }
}

std::vector<std::string> existing_ids(Db& db, const ByteColumn& ids, size_t limit, const AuditKeys& keys) {
  std::vector<std::string> found;
  Stmt q = db.prepare("SELECT 1 FROM records WHERE id IN (?1, ?2)");
  for (size_t i = 0; i < ids.size() && found.size() < limit; ++i) {
    const std::string keyed = keyed_name(keys, ids.at(i));
    q.bind(1, ids.at(i)).bind(2, keyed.empty() ? std::string(ids.at(i)) : keyed);
    if (q.step()) found.emplace_back(ids.at(i));
    q.reset();
  }
  return found;
}

std::vector<std::pair<std::string, int32_t>> owner_cells(Db& db, int slices) {
  Stmt q = db.prepare(
      "SELECT DISTINCT r.owner, s.shard, s.slice FROM records r JOIN slices s USING (slice_id) "
      "WHERE s.kind = 'train' ORDER BY r.owner");
  std::vector<std::pair<std::string, int32_t>> out;
  while (q.step()) {
    out.emplace_back(q.text(0), static_cast<int32_t>(q.int64(1) * slices + q.int64(2)));
  }
  return out;
}

std::optional<RecordLocation> find_record(Db& db, const std::string& id, const AuditKeys& keys) {
  auto rows = query_records(db, "id", id, keyed_name(keys, id));
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::vector<RecordLocation> find_owner(Db& db, const std::string& owner, const AuditKeys& keys) {
  return query_records(db, "owner", owner, keyed_name(keys, owner));
}

int64_t row_position(int64_t row, const std::vector<int64_t>& purged) {
  return row - (std::lower_bound(purged.begin(), purged.end(), row) - purged.begin());
}

std::vector<uint32_t> live_rows(Db& db, int64_t slice_id) {
  // The file holds the slice's row numbers less the purged ones, in order; the live rows are
  // those less the deleted ones not purged yet. Both lists are small (partial index and
  // purged_rows), so this reads no record of the slice and scans nothing.
  Stmt n = db.prepare("SELECT records FROM slices WHERE slice_id = ?");
  n.bind(1, slice_id);
  if (!n.step()) fail(ErrorKind::kNotFound, "no slice {} in the index", slice_id);
  const int64_t records = n.int64(0);
  const std::vector<int64_t> purged = purged_row_numbers(db, slice_id);
  const std::vector<int64_t> deleted =
      row_numbers(db, "SELECT row FROM records WHERE slice_id = ? AND status = 1 AND row >= 0 ORDER BY row", slice_id);
  std::vector<uint32_t> rows;
  rows.reserve(static_cast<size_t>(records));
  int64_t position = 0;
  for (const int64_t d : deleted) {
    const int64_t at = row_position(d, purged);  // the deleted row's position in the file
    for (; position < at; ++position) rows.push_back(static_cast<uint32_t>(position));
    ++position;
  }
  for (; position < records; ++position) rows.push_back(static_cast<uint32_t>(position));
  return rows;
}

int64_t next_row_number(Db& db, int64_t slice_id) {
  Stmt q = db.prepare(
      "SELECT records + (SELECT COUNT(*) FROM purged_rows WHERE slice_id = ?1) FROM slices WHERE slice_id = ?1");
  q.bind(1, slice_id);
  if (!q.step()) fail(ErrorKind::kNotFound, "no slice {} in the index", slice_id);
  return q.int64(0);
}

int64_t insert_component(Db& db, const ComponentRow& row) {
  Stmt q = db.prepare(
      "INSERT INTO components (kind, shard, prefix, file, hash, status, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) RETURNING component_id");
  q.bind(1, row.kind);
  if (row.shard >= 0) q.bind(2, int64_t{row.shard});
  else q.bind_null(2);
  q.bind(3, row.prefix).bind(4, row.file).bind(5, row.hash).bind(6, row.status);
  if (!q.step()) fail(ErrorKind::kInternal, "inserting a component returned no id");
  return q.int64(0);
}

void add_lineage_edge(Db& db, int64_t component_id, int64_t slice_id, const std::string& slice_hash) {
  Stmt q = db.prepare(
      "INSERT INTO component_slices (component_id, slice_id, slice_hash) VALUES (?, ?, ?)");
  q.bind(1, component_id).bind(2, slice_id).bind(3, slice_hash).run();
}

namespace {

constexpr const char* kComponentColumns =
    "SELECT component_id, kind, COALESCE(shard, -1), COALESCE(prefix, ''), COALESCE(file, ''), "
    "COALESCE(hash, ''), status FROM components ";

ComponentRow read_component(Stmt& q) {
  ComponentRow c;
  c.component_id = q.int64(0);
  c.kind = q.text(1);
  c.shard = static_cast<int>(q.int64(2));
  c.prefix = q.text(3);
  c.file = q.text(4);
  c.hash = q.text(5);
  c.status = q.text(6);
  return c;
}

}  // namespace

std::vector<ComponentRow> live_components(Db& db, const std::string& kind) {
  Stmt q = db.prepare(std::string(kComponentColumns) + "WHERE kind = ? AND status = 'live' ORDER BY component_id");
  q.bind(1, kind);
  std::vector<ComponentRow> out;
  while (q.step()) out.push_back(read_component(q));
  return out;
}

std::vector<ComponentRow> all_components(Db& db) {
  Stmt q = db.prepare(std::string(kComponentColumns) + "ORDER BY component_id");
  std::vector<ComponentRow> out;
  while (q.step()) out.push_back(read_component(q));
  return out;
}

std::optional<ComponentRow> component_by_id(Db& db, int64_t component_id) {
  Stmt q = db.prepare(std::string(kComponentColumns) + "WHERE component_id = ?");
  q.bind(1, component_id);
  if (!q.step()) return std::nullopt;
  return read_component(q);
}

std::string seal_deleted_record(Db& db, const AuditKeys& keys, int64_t rid) {
  Stmt names = db.prepare("SELECT id, owner FROM records WHERE rid = ?");
  names.bind(1, rid);
  if (!names.step()) fail(ErrorKind::kInternal, "sealing record {}: no such record", rid);
  const std::string id = names.text(0), owner = names.text(1);
  Stmt seal = db.prepare("UPDATE records SET id = ?, owner = ?, label = -1 WHERE rid = ?");
  seal.bind(1, sealed_name(keys, id)).bind(2, sealed_name(keys, owner)).bind(3, rid).run();
  return keyed_hash_of(keys, id);
}

std::string stored_request_text(const AuditKeys& keys, const std::string& plain) {
  if (plain.empty()) return "";
  const std::string keyed = keyed_name(keys, plain);
  if (keyed.empty()) fail(ErrorKind::kInternal, "keying a request's ID without the workspace's ID secret");
  return keyed;
}

std::optional<std::string> find_request(Db& db, const AuditKeys& keys, const std::string& request_id) {
  Stmt q = db.prepare("SELECT request_id FROM requests WHERE request_id IN (?1, ?2) ORDER BY request_id = ?1 DESC");
  q.bind(1, stored_request_text(keys, request_id)).bind(2, request_id);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

void set_component_status(Db& db, int64_t component_id, const std::string& status) {
  Stmt q = db.prepare("UPDATE components SET status = ? WHERE component_id = ?");
  q.bind(1, status).bind(2, component_id).run();
}

std::vector<SplitCounts> split_counts(Db& db) {
  Stmt q = db.prepare(
      "SELECT s.kind, COUNT(*), SUM(r.status = 1), COUNT(DISTINCT r.owner) FROM records r "
      "JOIN slices s USING (slice_id) GROUP BY s.kind ORDER BY s.kind = 'train' DESC, s.kind");
  std::vector<SplitCounts> out;
  while (q.step()) {
    out.push_back({q.text(0), static_cast<uint64_t>(q.int64(1)),
                   static_cast<uint64_t>(q.int64(2)), static_cast<uint64_t>(q.int64(3))});
  }
  return out;
}

}  // namespace lethe
