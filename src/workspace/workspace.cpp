#include "src/workspace/workspace.h"

#include "src/workspace/purge.h"

#include <sodium.h>
#include <stdio.h>  // renameat2
#include <fcntl.h>
#include <unistd.h>

#include <set>

#include "src/common/clock.h"
#include "src/index/components.h"
#include "src/index/lineage_index.h"
#include "src/index/record_sets.h"
#include "src/index/ledger.h"
#include "src/common/error.h"
#include "src/workspace/layout.h"
#include "src/workspace/tokenizer_store.h"
#include "src/index/lineage_schema.h"
#include "lethe_build_info.h"

namespace lethe {

namespace {

std::string random_hex(size_t bytes) {
  if (sodium_init() < 0) fail(ErrorKind::kInternal, "libsodium failed to initialise");
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

bool is_empty_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::is_empty(p, ec);
}

// Writes a complete workspace into `dir`, which must not exist. Private: 0700 directories,
// 0600 files (src/common/fs.h), whatever the umask.
void build_workspace(const fs::path& dir, const Config& config, const std::string& origin) {
  for (const fs::path& sub : {dir, data_dir(dir), checkpoints_dir(dir), reports_dir(dir)}) {
    create_private_directory(sub);
  }
  write_file_atomic(config_file(dir), config_to_toml(config));
  // The workspace's own audit keys: the ledger is signed from its first entry.
  const AuditKeys keys = generate_audit_keys();
  write_audit_keys(audit_key_file(dir), keys);
  ensure_serve_token(serve_token_file(dir));
  {
    Db db = Db::open(index_file(dir), /*create=*/true);
    migrate(db, index_migrations());
    Transaction txn(db);
    const std::string id = random_hex(16), created_at = utc_timestamp();
    set_meta(db, "workspace_id", id);
    set_meta(db, "created_at", created_at);
    set_meta(db, "created_by", std::string("lethe ") + LETHE_VERSION);
    set_meta(db, "origin", origin);
    set_meta(db, "audit.public_key", public_key_hex(keys));
    append_ledger(db, keys, "init", {{"workspace_id", id}, {"created_by", std::string("lethe ") + LETHE_VERSION},
                                     {"origin", origin}, {"public_key", public_key_hex(keys)}});
    txn.commit();
  }  // closing the last connection checkpoints the WAL into lineage.db
  fsync_path(index_file(dir));
  fsync_path(dir);
}

}  // namespace

bool is_workspace(const fs::path& root) {
  std::error_code ec;
  return fs::is_regular_file(config_file(root), ec) && fs::is_regular_file(index_file(root), ec);
}

void create_workspace(const fs::path& root, const Config& config, const CreateOptions& options) {
  std::error_code ec;
  const bool exists = fs::exists(root, ec);
  const bool replace = exists && !is_empty_dir(root);
  if (replace && !options.force) {
    fail(ErrorKind::kConflict, "'{}' already exists{}; use --force to replace it", root.string(),
         is_workspace(root) ? " and holds a workspace" : "");
  }
  if (replace && !is_workspace(root)) {
    fail(ErrorKind::kConflict,
         "'{}' exists and is not a Lethe workspace (no lethe.toml and lineage.db); refusing to "
         "replace it even with --force",
         root.string());
  }
  if (exists && !fs::is_directory(root, ec)) {
    fail(ErrorKind::kConflict, "'{}' exists and is not a directory", root.string());
  }
  if (!root.parent_path().empty()) fs::create_directories(root.parent_path());

  const fs::path tmp = temp_sibling(root);
  fs::remove_all(tmp);
  try {
    build_workspace(tmp, config, options.origin);
    if (!replace) {
      // rename(2) onto a missing or empty directory; a racing init that got there first makes
      // it fail with ENOTEMPTY/EEXIST.
      if (::rename(tmp.c_str(), root.c_str()) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) {
          fail(ErrorKind::kConflict, "'{}' was created by another process meanwhile",
               root.string());
        }
        fail_errno("cannot move the new workspace into place at", root.string());
      }
      fsync_parent(root);
      return;
    }
    // Replace under the old workspace's lock, with one atomic exchange: at every instant
    // `root` is either the complete old workspace or the complete new one.
    WorkspaceLock lock = WorkspaceLock::acquire(lock_file(root), options.command);
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, root.c_str(), RENAME_EXCHANGE) != 0) {
      fail_errno("cannot swap the new workspace into place at", root.string());
    }
    fsync_parent(root);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove_all(tmp);  // now the old workspace
}

namespace {

Workspace open_index(const fs::path& root) {
  if (!is_workspace(root)) {
    fail(ErrorKind::kNotFound, "no Lethe workspace at '{}' (expected lethe.toml and lineage.db); "
         "create one with 'lethe init' or pass --workspace", root.string());
  }
  Config config;
  load_config_file(config_file(root), config);
  Db db = Db::open(index_file(root), /*create=*/false);
  migrate(db, index_migrations());
  return Workspace{root, std::move(config), std::move(db), {}};
}

}  // namespace

Workspace open_workspace(const fs::path& root, PendingPurge pending) {
  Workspace ws = open_index(root);
  // Readers get the ID secret (to find deleted records by their keyed names) when they may
  // read the key file, never the signing key.
  const fs::path key_file = audit_key_file(root);
  if (::access(key_file.c_str(), R_OK) == 0) ws.audit.id_secret = read_audit_keys(key_file).id_secret;
  // A deletion was acknowledged but its purge did not finish (a crash): finish it now unless
  // another writer holds the lock (it finishes it). Serving is safe either way: the affected
  // components were deactivated in the deletion's own transaction.
  if (pending == PendingPurge::kFinish && deletion_unfinished(ws)) {
    try {
      WritableWorkspace w = open_workspace_for_write(root, "purge of an acknowledged deletion (recovery)");
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kConflict) throw;
    }
  }
  return ws;
}

namespace {

// The signing key must be the one the ledger's first entries were signed with: a missing or
// different key file would let the chain be extended by someone else, so writing stops.
AuditKeys load_audit_keys(Workspace& ws) {
  const fs::path file = audit_key_file(ws.root);
  const auto recorded = get_meta(ws.db, "audit.public_key");
  if (recorded) {
    if (!fs::exists(file)) {
      fail(ErrorKind::kIntegrity, "'{}' is missing: the audit ledger of this workspace cannot be extended without "
           "its signing key (restore it from a backup)", file.string());
    }
    AuditKeys keys = read_audit_keys(file);
    if (*recorded != public_key_hex(keys)) {
      fail(ErrorKind::kIntegrity, "'{}' holds another key than the one this workspace's ledger records", file.string());
    }
    return keys;
  }
  // A workspace made before the ledger existed: its chain starts now, from the state found,
  // which the first entry records (the audit attests that state as found, not its history).
  // A key file without a recorded key is from such an upgrade, interrupted before its commit.
  AuditKeys keys;
  if (fs::exists(file)) {
    keys = read_audit_keys(file);
  } else {
    keys = generate_audit_keys();
    write_audit_keys(file, keys);
  }
  Transaction txn(ws.db);
  set_meta(ws.db, "audit.public_key", public_key_hex(keys));
  nlohmann::json components = nlohmann::json::array(), slices = nlohmann::json::array();
  for (const ComponentRow& c : all_components(ws.db)) {
    if (c.status == "live") components.push_back({{"component_id", c.component_id}, {"kind", c.kind}, {"hash", c.hash}});
  }
  for (const SliceRow& s : list_slices(ws.db)) slices.push_back({{"slice_id", s.slice_id}, {"hash", s.hash}});
  // Records deleted before the ledger keep only their keyed names from now on, as later ones.
  nlohmann::json deleted = nlohmann::json::array();
  for (const auto& [rid, id] : deleted_records(ws.db)) deleted.push_back(seal_deleted_record(ws.db, keys, rid));
  append_ledger(ws.db, keys, "audit.keys_created",
                {{"public_key", public_key_hex(keys)}, {"components", components}, {"slices", slices}, {"deleted", deleted}});
  txn.commit();
  return keys;
}

}  // namespace

void record_event(Workspace& ws, const std::string& event, const nlohmann::json& payload) {
  if (ws.audit.secret_key.empty()) {
    fail(ErrorKind::kInternal, "recording '{}' in the ledger of a workspace opened for reading", event);
  }
  append_ledger(ws.db, ws.audit, event, payload);
}

WritableWorkspace open_workspace_for_write(const fs::path& root, const std::string& command) {
  if (!is_workspace(root)) open_workspace(root);  // throws the not-found error
  WorkspaceLock lock = WorkspaceLock::acquire(lock_file(root), command);
  // A workspace made before workspaces were private (or opened up since) is closed again: it
  // holds personal data.
  if ((permission_bits(root) & kSharedBits) != 0) create_private_directory(root);
  Workspace ws = open_index(root);
  ws.audit = load_audit_keys(ws);
  // Temporary files belong to a writer that died before its rename, and unreferenced data
  // files to one that died before its commit: neither was ever part of the committed state, so
  // removing them is always safe while we hold the lock.
  size_t removed = 0;
  for (const fs::path& dir : {root, checkpoints_dir(root), reports_dir(root)}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (is_temp_name(entry.path())) {
        fs::remove_all(entry.path());
        ++removed;
      }
    }
  }
  // Finish the purge of acknowledged deletions first: it also removes what it unreferences.
  adopt_unrecorded_tokenizer(ws);
  if (deletion_unfinished(ws)) removed += purge_pending(ws).files_removed;
  removed += remove_unreferenced_files(ws);
  return WritableWorkspace{std::move(lock), std::move(ws), removed};
}

size_t remove_unreferenced_files(Workspace& ws) {
  // Referenced: every slice file, the tokenizer, and the files of live components. A file of
  // a deactivated component is garbage too: its replacement was committed, and a writer that
  // died before deleting it left it behind.
  const std::set<std::string> referenced = referenced_files(ws.db);
  size_t removed = 0;
  for (const fs::path& dir : {data_dir(ws.root), checkpoints_dir(ws.root)}) {
    size_t here = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string rel = fs::relative(entry.path(), ws.root).string();
      if (referenced.count(rel)) continue;
      fs::remove_all(entry.path());
      ++here;
    }
    if (here > 0) fsync_path(dir);
    removed += here;
  }
  return removed;
}

WorkspaceInfo workspace_info(Workspace& ws) {
  WorkspaceInfo info;
  info.workspace_id = get_meta(ws.db, "workspace_id").value_or("");
  info.created_at = get_meta(ws.db, "created_at").value_or("");
  info.created_by = get_meta(ws.db, "created_by").value_or("");
  info.origin = get_meta(ws.db, "origin").value_or("");
  info.schema_version = schema_version(ws.db);
  return info;
}

std::string ensure_serve_token(const fs::path& file) {
  if (!fs::exists(file)) write_file_atomic(file, random_hex(32) + "\n", kPrivateFileMode);
  if (const unsigned mode = permission_bits(file); (mode & kSharedBits) != 0) {
    fail(ErrorKind::kIntegrity, "'{}' is open to others than its owner (mode {:04o}); it authorises deletions: "
         "run 'chmod 600 {}', and if others may have copied it, write a new token into it", file.string(), mode,
         file.string());
  }
  std::string token = read_file(file);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) fail(ErrorKind::kInput, "the token file '{}' is empty", file.string());
  return token;
}

}  // namespace lethe
