// A small RAII layer over SQLite: connections with Lethe's durability pragmas, prepared
// statements, transactions and versioned migrations. Errors become lethe::Error naming the
// database file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/fs.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lethe {

class Stmt;

// The row of PRAGMA wal_checkpoint: whether a reader or writer blocked it, the frames in the
// log, and how many of them were copied into the database.
struct WalCheckpoint {
  bool busy = false;
  int64_t log_frames = 0;
  int64_t checkpointed_frames = 0;
};

class Db {
 public:
  // Opens (creating when `create`) with WAL, synchronous=FULL, foreign keys and secure_delete
  // (deleted rows are overwritten with zeros: needed for the erasure invariant).
  static Db open(const fs::path& path, bool create);

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  void exec(std::string_view sql);
  Stmt prepare(std::string_view sql);
  // PRAGMA wal_checkpoint(TRUNCATE): copies the write-ahead log into the database and empties
  // it, waiting at most `wait_ms` for readers of older snapshots to finish. busy = true when one
  // still held the log (then old page images may remain in it and in the database file).
  WalCheckpoint checkpoint_truncate(int wait_ms);
  int64_t last_insert_rowid() const;
  int changes() const;
  // Pages this connection has asked its page cache for since it was opened (hits and misses):
  // the work its statements did, independent of the machine's speed (the purge test uses it).
  int64_t page_requests() const;
  const fs::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Throws the Error that matches SQLite result code `rc`, naming `what` and this database.
  [[noreturn]] void raise(int rc, std::string_view what) const;

 private:
  Db(sqlite3* db, fs::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  fs::path path_;
};

class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based as in SQLite.
  Stmt& bind(int index, int64_t value);
  Stmt& bind(int index, double value);
  Stmt& bind(int index, std::string_view text);
  Stmt& bind_blob(int index, std::string_view bytes);
  Stmt& bind_null(int index);

  // Returns true while a row is available.
  bool step();
  // Runs a statement that returns no rows, then resets it for reuse.
  void run();
  void reset();

  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  bool is_null(int col) const;

 private:
  friend class Db;
  Stmt(const Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  const Db* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction (takes the write lock at once, so a transaction never fails
// half way for lack of it); rolls back on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

struct Migration {
  int version;      // 1, 2, 3, ... in order
  const char* sql;  // applied in one transaction together with PRAGMA user_version
};

// Brings the schema (PRAGMA user_version) up to the last migration. A database newer than the
// code is an integrity error: an old binary must not write a schema it does not understand.
void migrate(Db& db, const std::vector<Migration>& migrations);
int schema_version(Db& db);

}  // namespace lethe
