// The audit ledger: a chain of signed entries in which every change, removal or forgery is
// found and named.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "src/index/lineage_index.h"
#include "src/index/lineage_schema.h"
#include "src/index/ledger.h"
#include "src/common/error.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

namespace {

Db ledger_db(const test::TempDir& dir) {
  Db db = Db::open(dir / "lineage.db", true);
  migrate(db, index_migrations());
  return db;
}

void append(Db& db, const AuditKeys& keys, int n) {
  for (int i = 0; i < n; ++i) {
    Transaction txn(db);
    append_ledger(db, keys, "test.event", {{"i", i}, {"note", "entry " + std::to_string(i)}});
    txn.commit();
  }
}

bool names(const std::vector<LedgerViolation>& v, int64_t seq, const std::string& words) {
  for (const LedgerViolation& x : v) {
    if (x.seq == seq && x.what.find(words) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("ledger: an untouched chain verifies, with the workspace's key only", "[audit][ledger]") {
  test::TempDir dir;
  Db db = ledger_db(dir);
  const AuditKeys keys = generate_audit_keys();
  CHECK(verify_ledger(db, keys.public_key).empty());  // empty ledger
  append(db, keys, 4);
  const auto entries = read_ledger(db);
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].prev_hash.empty());
  CHECK(entries[2].prev_hash == entries[1].hash);
  CHECK(verify_ledger(db, keys.public_key).empty());
  // Another key: every signature fails.
  const auto other = verify_ledger(db, generate_audit_keys().public_key);
  CHECK(other.size() == 4);
  CHECK(names(other, 3, "signature"));
}

TEST_CASE("ledger: a changed payload, hash or signature, or a removed entry, is found and named", "[audit][ledger]") {
  test::TempDir dir;
  Db db = ledger_db(dir);
  const AuditKeys keys = generate_audit_keys();
  append(db, keys, 5);

  db.exec("UPDATE ledger SET payload = replace(payload, 'entry 2', 'entry X') WHERE seq = 3");
  CHECK(names(verify_ledger(db, keys.public_key), 3, "contents"));
  db.exec("UPDATE ledger SET payload = replace(payload, 'entry X', 'entry 2') WHERE seq = 3");
  CHECK(verify_ledger(db, keys.public_key).empty());

  // One flipped hex digit of a signature.
  const std::string sig = read_ledger(db)[1].signature;
  std::string flipped = sig;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  Stmt set = db.prepare("UPDATE ledger SET signature = ? WHERE seq = 2");
  set.bind(1, flipped).run();
  CHECK(names(verify_ledger(db, keys.public_key), 2, "signature"));
  Stmt back = db.prepare("UPDATE ledger SET signature = ? WHERE seq = 2");
  back.bind(1, sig).run();

  // A forged entry re-hashed without the key: the hash matches, the signature does not.
  db.exec("UPDATE ledger SET event = 'forged' WHERE seq = 4");
  LedgerEntry e = read_ledger(db)[3];
  Stmt rehash = db.prepare("UPDATE ledger SET hash = ? WHERE seq = 4");
  rehash.bind(1, ledger_entry_hash(e)).run();
  const auto forged = verify_ledger(db, keys.public_key);
  CHECK(names(forged, 4, "signature"));
  CHECK(names(forged, 5, "previous-entry hash"));  // and the chain breaks after it
}

TEST_CASE("ledger: removing an entry in the middle or at the end is found", "[audit][ledger]") {
  test::TempDir dir;
  Db db = ledger_db(dir);
  const AuditKeys keys = generate_audit_keys();
  append(db, keys, 5);
  db.exec("DELETE FROM ledger WHERE seq = 5");
  CHECK(names(verify_ledger(db, keys.public_key), 0, "removed from the end"));
  db.exec("DELETE FROM ledger WHERE seq = 2");
  const auto v = verify_ledger(db, keys.public_key);
  CHECK(names(v, 3, "missing"));
  CHECK(names(v, 3, "previous-entry hash"));
}

TEST_CASE("audit keys: written with mode 0600, read back, malformed files refused", "[audit]") {
  test::TempDir dir;
  const AuditKeys keys = generate_audit_keys();
  write_audit_keys(dir / "audit.key", keys);
  struct stat st {};
  REQUIRE(::stat((dir / "audit.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const AuditKeys back = read_audit_keys(dir / "audit.key");
  CHECK(back.public_key == keys.public_key);
  CHECK(back.secret_key == keys.secret_key);
  CHECK(back.id_secret == keys.id_secret);
  CHECK(keyed_id(keys, "user-17") == keyed_id(back, "user-17"));
  CHECK(keyed_id(keys, "user-17") != keyed_id(generate_audit_keys(), "user-17"));  // keyed
  CHECK(keyed_id(keys, "user-17").size() == 64);
  write_file_atomic(dir / "bad.key", "ed25519-public abc\n");
  CHECK_THROWS_AS(read_audit_keys(dir / "bad.key"), Error);
  CHECK_THROWS_AS(read_audit_keys(dir / "missing.key"), Error);
}

TEST_CASE("audit keys: a key file others may read or write is refused, naming the fix", "[audit]") {
  test::TempDir dir;
  write_audit_keys(dir / "audit.key", generate_audit_keys());
  for (const fs::perms open : {fs::perms::others_read, fs::perms::group_read, fs::perms::group_write}) {
    fs::permissions(dir / "audit.key", fs::perms::owner_read | fs::perms::owner_write | open);
    try {
      read_audit_keys(dir / "audit.key");
      FAIL("a key file open to others was read");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kIntegrity);
      CHECK_THAT(e.what(), Catch::Contains("audit.key") && Catch::Contains("chmod 600"));
    }
  }
}

TEST_CASE("keyed names: deleted IDs are kept as k:<keyed hash>, sealed once, the same under the same secret",
          "[ledger]") {
  const AuditKeys keys = generate_audit_keys();
  const std::string name = keyed_name(keys, "alice-17");
  CHECK(is_keyed_name(name));
  CHECK(name.rfind("k:", 0) == 0);
  CHECK(name.size() == 2 + 64);
  CHECK(name == keyed_name_of_hash(keyed_id(keys, "alice-17")));
  CHECK(!is_keyed_name("alice-17"));
  CHECK(!is_keyed_name("k:short"));
  CHECK(sealed_name(keys, name) == name);  // already sealed: unchanged, never hashed twice
  CHECK(sealed_name(keys, "alice-17") == name);
  CHECK(keyed_hash_of(keys, name) == keyed_id(keys, "alice-17"));
  CHECK(keyed_hash_of(AuditKeys{}, name) == keyed_id(keys, "alice-17"));
  CHECK(keyed_name(generate_audit_keys(), "alice-17") != name);  // another workspace, another secret
  CHECK(keyed_name(AuditKeys{}, "alice-17").empty());             // a reader without the key file
}

TEST_CASE("audit signatures: a signed text verifies with its key only, and not once changed", "[ledger]") {
  const AuditKeys keys = generate_audit_keys(), other = generate_audit_keys();
  const std::string sig = audit_sign(keys, "certificate body");
  CHECK(audit_signature_ok(keys.public_key, "certificate body", sig));
  CHECK(!audit_signature_ok(keys.public_key, "certificate bodY", sig));
  CHECK(!audit_signature_ok(other.public_key, "certificate body", sig));
  CHECK(!audit_signature_ok(keys.public_key, "certificate body", sig.substr(2)));
  CHECK(!audit_signature_ok(keys.public_key, "certificate body", "zz" + sig.substr(2)));
}
