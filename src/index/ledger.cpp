#include "src/index/ledger.h"

#include <sodium.h>

#include <sstream>

#include "src/index/lineage_index.h"
#include "src/common/clock.h"
#include "src/common/error.h"

namespace lethe {

namespace {

std::string to_hex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

// nullopt-like: empty string when `hex` is not exactly `size` bytes of hex.
std::string from_hex(std::string_view hex, size_t size) {
  std::string out(size, '\0');
  size_t len = 0;
  if (hex.size() != size * 2 ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), size, hex.data(), hex.size(), nullptr, &len,
                     nullptr) != 0 ||
      len != size) {
    return "";
  }
  return out;
}

std::string blake2b_256(std::string_view bytes, std::string_view key = {}) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                     key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data()), key.size());
  return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

}  // namespace

std::string audit_sign(const AuditKeys& keys, std::string_view text) {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                       reinterpret_cast<const unsigned char*>(keys.secret_key.data()));
  return to_hex(std::string_view(reinterpret_cast<const char*>(sig), sizeof sig));
}

bool audit_signature_ok(const std::string& public_key, std::string_view text, std::string_view signature_hex) {
  const std::string sig = from_hex(signature_hex, crypto_sign_BYTES);
  return !sig.empty() && public_key.size() == crypto_sign_PUBLICKEYBYTES &&
         crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

AuditKeys generate_audit_keys() {
  AuditKeys k;
  k.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  k.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()),
                      reinterpret_cast<unsigned char*>(k.secret_key.data()));
  k.id_secret.resize(crypto_generichash_KEYBYTES);
  randombytes_buf(k.id_secret.data(), k.id_secret.size());
  return k;
}

void write_audit_keys(const fs::path& file, const AuditKeys& keys) {
  const std::string text = "ed25519-public " + to_hex(keys.public_key) + "\ned25519-secret " +
                           to_hex(keys.secret_key) + "\nid-secret " + to_hex(keys.id_secret) + "\n";
  write_file_atomic(file, text, kPrivateFileMode);
}

AuditKeys read_audit_keys(const fs::path& file) {
  if (!fs::exists(file)) fail(ErrorKind::kNotFound, "no audit key file '{}'", file.string());
  // Like ssh with a private key: a key others may read is refused, not used. Its secrets sign
  // the ledger and key the names of deleted records.
  if (const unsigned mode = permission_bits(file); (mode & kSharedBits) != 0) {
    fail(ErrorKind::kIntegrity, "'{}' is open to others than its owner (mode {:04o}); its secrets sign the ledger "
         "and hide deleted records' names: run 'chmod 600 {}', and if others may have copied it, treat the key "
         "as compromised", file.string(), mode, file.string());
  }
  std::istringstream in(read_file(file));
  AuditKeys k;
  std::string name, hex;
  int line = 0;
  while (in >> name >> hex) {
    ++line;
    if (name == "ed25519-public") k.public_key = from_hex(hex, crypto_sign_PUBLICKEYBYTES);
    else if (name == "ed25519-secret") k.secret_key = from_hex(hex, crypto_sign_SECRETKEYBYTES);
    else if (name == "id-secret") k.id_secret = from_hex(hex, crypto_generichash_KEYBYTES);
    else fail(ErrorKind::kIntegrity, "{}:{}: unknown key '{}'", file.string(), line, name);
  }
  if (k.public_key.empty() || k.secret_key.empty() || k.id_secret.empty()) {
    fail(ErrorKind::kIntegrity, "{}: expected the lines ed25519-public, ed25519-secret and id-secret, each with "
         "its hex value", file.string());
  }
  return k;
}

std::string public_key_hex(const AuditKeys& keys) { return to_hex(keys.public_key); }
std::string public_key_from_hex(std::string_view hex) { return from_hex(hex, crypto_sign_PUBLICKEYBYTES); }

std::string keyed_id(const AuditKeys& keys, std::string_view id) { return to_hex(blake2b_256(id, keys.id_secret)); }

namespace {
constexpr std::string_view kKeyedPrefix = "k:";
}

bool is_keyed_name(std::string_view stored) {
  return stored.size() == kKeyedPrefix.size() + 64 && stored.substr(0, kKeyedPrefix.size()) == kKeyedPrefix;
}

std::string keyed_name_of_hash(std::string_view keyed_hash_hex) { return std::string(kKeyedPrefix) + std::string(keyed_hash_hex); }

std::string keyed_name(const AuditKeys& keys, std::string_view plain) {
  if (keys.id_secret.empty()) return "";
  return std::string(kKeyedPrefix) + keyed_id(keys, plain);
}

std::string sealed_name(const AuditKeys& keys, std::string_view stored) {
  return is_keyed_name(stored) ? std::string(stored) : keyed_name(keys, stored);
}

std::string keyed_hash_of(const AuditKeys& keys, std::string_view stored) {
  return sealed_name(keys, stored).substr(kKeyedPrefix.size());
}

std::string ledger_entry_hash(const LedgerEntry& e) {
  // Length-prefixed fields: no two different entries serialise to the same bytes.
  std::string bytes;
  for (const std::string& f : {e.prev_hash, std::to_string(e.seq), e.at, e.event, e.payload}) {
    bytes += std::to_string(f.size()) + ":" + f + "\n";
  }
  return to_hex(blake2b_256(bytes));
}

LedgerEntry append_ledger(Db& db, const AuditKeys& keys, const std::string& event, const nlohmann::json& payload) {
  LedgerEntry e;
  {
    Stmt last = db.prepare("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1");
    if (last.step()) {
      e.seq = last.int64(0) + 1;
      e.prev_hash = last.text(1);
    } else {
      e.seq = 1;
    }
  }
  e.at = utc_timestamp();
  e.event = event;
  e.payload = payload.dump();
  e.hash = ledger_entry_hash(e);
  e.signature = audit_sign(keys, e.hash);
  Stmt q = db.prepare("INSERT INTO ledger (seq, at, event, payload, prev_hash, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, e.seq).bind(2, e.at).bind(3, e.event).bind(4, e.payload).bind(5, e.prev_hash).bind(6, e.hash).bind(7, e.signature);
  q.run();
  set_meta(db, "ledger.head", nlohmann::json({{"seq", e.seq}, {"hash", e.hash}}).dump());
  return e;
}

LedgerHead ledger_head(Db& db) {
  const auto head = get_meta(db, "ledger.head");
  if (!head) return {};
  const nlohmann::json h = nlohmann::json::parse(*head, nullptr, false);
  if (h.is_discarded() || !h.contains("seq") || !h["seq"].is_number_integer() || !h.contains("hash") ||
      !h["hash"].is_string()) {
    fail(ErrorKind::kIntegrity, "the index's recorded ledger head is malformed");
  }
  return {h["seq"].get<int64_t>(), h["hash"].get<std::string>()};
}

std::vector<LedgerEntry> read_ledger(Db& db) {
  Stmt q = db.prepare("SELECT seq, at, event, payload, prev_hash, hash, signature FROM ledger ORDER BY seq");
  std::vector<LedgerEntry> out;
  while (q.step()) {
    out.push_back({q.int64(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), q.text(6)});
  }
  return out;
}

std::vector<LedgerViolation> verify_ledger(Db& db, const std::string& public_key) {
  std::vector<LedgerViolation> v;
  const std::vector<LedgerEntry> entries = read_ledger(db);
  std::string prev;
  int64_t expected_seq = 1;
  for (const LedgerEntry& e : entries) {
    if (e.seq != expected_seq) {
      v.push_back({e.seq, fmt::format("entry {} follows entry {}: {} missing", e.seq, expected_seq - 1,
                                      e.seq - expected_seq == 1 ? "one entry is" : "entries are")});
    }
    if (e.prev_hash != prev) v.push_back({e.seq, "its previous-entry hash does not match the entry before it"});
    if (ledger_entry_hash(e) != e.hash) v.push_back({e.seq, "its contents do not match its hash (changed after signing)"});
    if (!audit_signature_ok(public_key, e.hash, e.signature)) v.push_back({e.seq, "its signature does not verify with the workspace's public key"});
    prev = e.hash;
    expected_seq = e.seq + 1;
  }
  const auto head = get_meta(db, "ledger.head");
  if (head) {
    const nlohmann::json h = nlohmann::json::parse(*head, nullptr, false);
    if (h.is_discarded() || !h.contains("seq") || !h.contains("hash")) {
      v.push_back({0, "the recorded ledger head is malformed"});
    } else if (entries.empty() || entries.back().seq != h["seq"].get<int64_t>() || entries.back().hash != h["hash"]) {
      v.push_back({0, fmt::format("the ledger ends at entry {}, but its recorded head is entry {}: entries were removed "
                                  "from the end", entries.empty() ? 0 : entries.back().seq, h["seq"].get<int64_t>())});
    }
  } else if (!entries.empty()) {
    v.push_back({0, "the ledger has entries but no recorded head"});
  }
  return v;
}

}  // namespace lethe
