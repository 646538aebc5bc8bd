#include "src/common/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/common/error.h"

namespace lethe {

namespace {

constexpr int kBusyTimeoutMs = 5000;

// SQLite would create the file with 0644 less the umask, and gives its -wal and -shm files the
// database's mode: creating it empty with 0600 first (an empty file is an empty database)
// makes all three private.
void create_private_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, kPrivateFileMode);
  if (fd < 0) fail_errno("cannot create", path.string());
  const bool ok = ::fchmod(fd, kPrivateFileMode) == 0;
  ::close(fd);
  if (!ok) fail_errno("cannot set the permissions of", path.string());
}

}  // namespace

Db Db::open(const fs::path& path, bool create) {
  if (create && !fs::exists(path)) create_private_file(path);
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw, path);
  if (rc != SQLITE_OK) {
    if (!create && (rc == SQLITE_CANTOPEN)) {
      fail(ErrorKind::kNotFound, "database '{}' does not exist or cannot be opened", path.string());
    }
    db.raise(rc, "cannot open");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  db.exec(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "PRAGMA foreign_keys=ON;"
      "PRAGMA secure_delete=ON;");
  return db;
}

Db::Db(Db&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) { other.db_ = nullptr; }

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    other.db_ = nullptr;
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

void Db::raise(int rc, std::string_view what) const {
  const char* detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  ErrorKind kind = ErrorKind::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: kind = ErrorKind::kConflict; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: kind = ErrorKind::kIntegrity; break;
    default: break;
  }
  fail(kind, "{} (database '{}'): {}", what, path_.string(), detail);
}

void Db::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string owned(sql);
  const int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    raise(rc, "SQL failed: " + msg);
  }
}

Stmt Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) raise(rc, fmt::format("cannot prepare '{}'", sql));
  return Stmt(this, stmt);
}

WalCheckpoint Db::checkpoint_truncate(int wait_ms) {
  sqlite3_busy_timeout(db_, wait_ms);
  WalCheckpoint c;
  int rc = SQLITE_OK;
  {
    Stmt q = prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    rc = sqlite3_step(q.stmt_);
    if (rc == SQLITE_ROW) {
      c.busy = q.int64(0) != 0;
      c.log_frames = q.int64(1);
      c.checkpointed_frames = q.int64(2);
    }
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) c.busy = true;
  else if (rc != SQLITE_ROW) raise(rc, "PRAGMA wal_checkpoint(TRUNCATE) failed");
  return c;
}

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Db::changes() const { return sqlite3_changes(db_); }

int64_t Db::page_requests() const {
  int64_t total = 0;
  for (const int op : {SQLITE_DBSTATUS_CACHE_HIT, SQLITE_DBSTATUS_CACHE_MISS}) {
    int current = 0, highwater = 0;
    sqlite3_db_status(db_, op, &current, &highwater, 0);
    total += current;
  }
  return total;
}

Stmt::Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_->raise(rc, "cannot bind");
  return *this;
}

Stmt& Stmt::bind(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) db_->raise(rc, "cannot bind");
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->raise(rc, "cannot bind");
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  const int rc = sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->raise(rc, "cannot bind");
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->raise(rc, "cannot bind");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->raise(rc, fmt::format("statement failed: '{}'", sqlite3_sql(stmt_)));
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Stmt::text(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

int schema_version(Db& db) {
  Stmt s = db.prepare("PRAGMA user_version");
  s.step();
  return static_cast<int>(s.int64(0));
}

void migrate(Db& db, const std::vector<Migration>& migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  const int current = schema_version(db);
  if (current > latest) {
    fail(ErrorKind::kIntegrity,
         "database '{}' has schema version {}, newer than this lethe understands ({}); "
         "use a newer lethe",
         db.path().string(), current, latest);
  }
  if (current == latest) return;
  // The version is read again inside the write transaction: two processes that open an old
  // workspace at once must not both apply a migration.
  Transaction txn(db);
  const int locked = schema_version(db);
  for (const Migration& m : migrations) {
    if (m.version <= locked) continue;
    db.exec(m.sql);
    db.exec(fmt::format("PRAGMA user_version={}", m.version));
  }
  txn.commit();
}

}  // namespace lethe
