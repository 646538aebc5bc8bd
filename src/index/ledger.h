// The audit ledger: an append-only, hash-chained, signed record of every event that changes
// what a workspace holds or serves (init, ingest, base, trained node, forget request,
// deactivation, purge, retrain). Each entry is written in the same SQLite transaction as the
// change it records, so the ledger and the index never disagree; each entry's hash covers the
// previous entry's hash, so no entry can be changed, removed or reordered without breaking the
// chain; each hash is signed with the workspace's Ed25519 key, so only its holder can extend
// the chain, and anyone with the public key can check it.
//
// Record IDs and owner names never enter the ledger in plain text: they appear as keyed
// BLAKE2b hashes under a workspace secret (keyed_id), which lets the data owner later prove
// that their ID was covered without the ledger revealing it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/fs.h"
#include "src/common/sqlite_db.h"

namespace lethe {

// The workspace's audit secrets. Binary strings.
struct AuditKeys {
  std::string public_key;  // Ed25519, 32 bytes
  std::string secret_key;  // Ed25519, 64 bytes
  std::string id_secret;   // BLAKE2b key for record IDs and owners, 32 bytes
};

AuditKeys generate_audit_keys();
// `dir`/audit.key (mode 0600, written atomically): the secrets, as hex lines.
// ErrorKind::kIntegrity when the file is malformed, kNotFound when missing.
void write_audit_keys(const fs::path& file, const AuditKeys& keys);
AuditKeys read_audit_keys(const fs::path& file);

// The public key as hex (what `lethe audit pubkey` prints), and back (empty when malformed).
std::string public_key_hex(const AuditKeys& keys);
std::string public_key_from_hex(std::string_view hex);

// Ed25519 signature of `text` (hex), and its check against a public key (binary).
std::string audit_sign(const AuditKeys& keys, std::string_view text);
bool audit_signature_ok(const std::string& public_key, std::string_view text, std::string_view signature_hex);

// Keyed BLAKE2b-256 of an ID or owner name, hex.
std::string keyed_id(const AuditKeys& keys, std::string_view id);

// What the index keeps of a deleted record's ID and owner: "k:" and the keyed hash. Lookups
// by the plain name find it again (the workspace computes the same hash); nothing in the
// index reveals it. Empty when `keys` has no ID secret (a reader without the key file).
std::string keyed_name(const AuditKeys& keys, std::string_view plain);
bool is_keyed_name(std::string_view stored);
std::string keyed_name_of_hash(std::string_view keyed_hash_hex);
// A stored ID or owner as the index keeps it once deleted (unchanged when already keyed), and
// its keyed hash (hex), as the ledger names it.
std::string sealed_name(const AuditKeys& keys, std::string_view stored);
std::string keyed_hash_of(const AuditKeys& keys, std::string_view stored);

struct LedgerEntry {
  int64_t seq = 0;
  std::string at;         // UTC, ISO 8601
  std::string event;      // e.g. "forget.request"
  std::string payload;    // compact JSON
  std::string prev_hash;  // hex; "" for the first entry
  std::string hash;       // hex
  std::string signature;  // hex
};

// The hash an entry must carry: BLAKE2b-256 over its fields and the previous hash.
std::string ledger_entry_hash(const LedgerEntry& entry);

// Appends one entry, inside the caller's transaction (it must hold one). Returns it.
LedgerEntry append_ledger(Db& db, const AuditKeys& keys, const std::string& event, const nlohmann::json& payload);

std::vector<LedgerEntry> read_ledger(Db& db);

// The newest entry's seq and hash, as recorded beside the ledger (one row: cheap enough to ask
// before every model pass). Every commit that changes what serves appends an entry, so a
// reader whose head is unchanged has seen every such change. {0, ""} for a workspace without a
// ledger; ErrorKind::kIntegrity when the record is malformed.
struct LedgerHead {
  int64_t seq = 0;
  std::string hash;
  bool operator==(const LedgerHead& o) const { return seq == o.seq && hash == o.hash; }
  bool operator!=(const LedgerHead& o) const { return !(*this == o); }
};
LedgerHead ledger_head(Db& db);

struct LedgerViolation {
  int64_t seq = 0;  // the entry concerned (0: the ledger as a whole)
  std::string what;
};

// Every way the ledger fails to be the chain `public_key` signed: a changed field, a bad
// signature, a broken or reordered chain (a removed entry), a head that does not match the
// last entry (removed tail). Empty when intact.
std::vector<LedgerViolation> verify_ledger(Db& db, const std::string& public_key);

}  // namespace lethe
