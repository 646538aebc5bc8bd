#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "src/common/error.h"
#include "src/common/sqlite_db.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

const std::vector<Migration> kTwoSteps = {
    {1, "CREATE TABLE a (x INTEGER);"},
    {2, "ALTER TABLE a ADD COLUMN y TEXT;"},
};

}  // namespace

TEST_CASE("sqlite: opens with WAL and full synchronous writes", "[sqlite]") {
  test::TempDir dir;
  Db db = Db::open(dir / "x.db", true);
  Stmt mode = db.prepare("PRAGMA journal_mode");
  REQUIRE(mode.step());
  CHECK(mode.text(0) == "wal");
  Stmt sync = db.prepare("PRAGMA synchronous");
  REQUIRE(sync.step());
  CHECK(sync.int64(0) == 2);  // FULL
  Stmt secure = db.prepare("PRAGMA secure_delete");
  REQUIRE(secure.step());
  CHECK(secure.int64(0) == 1);
}

TEST_CASE("sqlite: migrations apply in order, once", "[sqlite]") {
  test::TempDir dir;
  Db db = Db::open(dir / "x.db", true);
  migrate(db, {kTwoSteps[0]});
  CHECK(schema_version(db) == 1);
  migrate(db, kTwoSteps);
  CHECK(schema_version(db) == 2);
  migrate(db, kTwoSteps);  // idempotent
  db.exec("INSERT INTO a(x, y) VALUES (1, 'one')");
}

TEST_CASE("sqlite: a schema newer than the code is an integrity error", "[sqlite]") {
  test::TempDir dir;
  Db db = Db::open(dir / "x.db", true);
  migrate(db, kTwoSteps);
  try {
    migrate(db, {kTwoSteps[0]});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kIntegrity);
    CHECK_THAT(e.what(), Catch::Contains("schema version 2"));
  }
}

TEST_CASE("sqlite: an uncommitted transaction rolls back", "[sqlite]") {
  test::TempDir dir;
  Db db = Db::open(dir / "x.db", true);
  db.exec("CREATE TABLE t (v INTEGER)");
  {
    Transaction txn(db);
    db.exec("INSERT INTO t VALUES (1)");
  }
  {
    Transaction txn(db);
    db.prepare("INSERT INTO t VALUES (?)").bind(1, int64_t{2}).run();
    txn.commit();
  }
  Stmt q = db.prepare("SELECT group_concat(v) FROM t");
  REQUIRE(q.step());
  CHECK(q.text(0) == "2");
}

TEST_CASE("sqlite: opening a missing database without create is not-found", "[sqlite]") {
  test::TempDir dir;
  try {
    Db::open(dir / "missing.db", false);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
  }
}

TEST_CASE("sqlite: SQL errors name the database file", "[sqlite]") {
  test::TempDir dir;
  Db db = Db::open(dir / "x.db", true);
  try {
    db.exec("SELECT * FROM no_such_table");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("x.db"));
    CHECK_THAT(e.what(), Catch::Contains("no_such_table"));
  }
}

TEST_CASE("sqlite: a new database and its -wal and -shm files are private, whatever the umask", "[sqlite]") {
  test::TempDir dir;
  const mode_t old = ::umask(0);
  {
    Db db = Db::open(dir / "x.db", true);
    db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('personal');");
    for (const char* name : {"x.db", "x.db-wal", "x.db-shm"}) {
      INFO(name);
      REQUIRE(fs::exists(dir / name));
      CHECK(permission_bits(dir / name) == 0600);
    }
  }
  ::umask(old);
}

TEST_CASE("sqlite: truncating the write-ahead log says when a reader of an older snapshot holds it", "[sqlite]") {
  test::TempDir dir;
  Db writer = Db::open(dir / "x.db", true);
  writer.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a');");
  Db reader = Db::open(dir / "x.db", false);
  reader.exec("BEGIN");
  {
    Stmt q = reader.prepare("SELECT COUNT(*) FROM t");
    REQUIRE(q.step());
  }
  writer.exec("INSERT INTO t VALUES ('b');");
  const WalCheckpoint held = writer.checkpoint_truncate(0);
  CHECK(held.busy);
  reader.exec("COMMIT");
  const WalCheckpoint done = writer.checkpoint_truncate(0);
  CHECK_FALSE(done.busy);
  CHECK(done.log_frames == done.checkpointed_frames);
  CHECK(fs::file_size(dir / "x.db-wal") == 0);
}
