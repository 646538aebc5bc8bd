// A workspace is a directory holding one Lethe deployment: its resolved configuration
// (lethe.toml), data slices (data/), checkpoints (checkpoints/), reports (reports/) and the
// lineage index (lineage.db, SQLite). Writers hold the workspace lock (lethe.lock).
#pragma once

#include <nlohmann/json.hpp>

#include "src/index/ledger.h"

#include <string>

#include "src/common/sqlite_db.h"
#include "src/config/config.h"
#include "src/workspace/lock.h"

namespace lethe {

struct Workspace {
  fs::path root;
  Config config;  // as stored in lethe.toml
  Db db;
  // Writers (open_workspace_for_write) hold all of it; readers only the ID secret, when they
  // may read the key file: readers cannot sign.
  AuditKeys audit;
};

// Appends an event to the audit ledger, inside the caller's transaction, signed with the
// workspace's key. ErrorKind::kInternal on a workspace opened for reading.
void record_event(Workspace& ws, const std::string& event, const nlohmann::json& payload);

struct WorkspaceInfo {
  std::string workspace_id;
  std::string created_at;
  std::string created_by;  // lethe version
  std::string origin;      // "init" or "quickstart"
  int schema_version = 0;
};

struct CreateOptions {
  bool force = false;          // replace an existing workspace
  std::string command;         // recorded in the lock while replacing
  std::string origin = "init"; // quickstart only ever replaces workspaces it created
};

// Creates a workspace at `root` holding `config`. It is built in a temporary sibling directory
// and renamed into place, so a crash leaves no half-made workspace. An existing non-empty
// `root` is refused (ErrorKind::kConflict) unless `force`; even then only a Lethe workspace (or
// an empty directory) is replaced, under that workspace's lock, never an arbitrary directory.
void create_workspace(const fs::path& root, const Config& config, const CreateOptions& options);

bool is_workspace(const fs::path& root);

// Opens an existing workspace for reading. ErrorKind::kNotFound when `root` holds none. By
// default a deletion whose purge did not finish (a crash) is finished first, under the write
// lock, unless another writer holds it; a long-running reader that purges with its own writer
// (lethe serve) opens with kLeave and never writes here.
enum class PendingPurge { kFinish, kLeave };
Workspace open_workspace(const fs::path& root, PendingPurge pending = PendingPurge::kFinish);

// Opens for writing: takes the lock, upgrades the index schema, loads the audit keys (creating
// them for a workspace made before the ledger existed; ErrorKind::kIntegrity when the key file
// is missing or does not match the recorded public key) and removes temporary files that a
// crashed writer left behind.
struct WritableWorkspace {
  WorkspaceLock lock;
  Workspace ws;
  size_t recovered_files = 0;  // leftovers of interrupted writers, removed on open
};
WritableWorkspace open_workspace_for_write(const fs::path& root, const std::string& command);

WorkspaceInfo workspace_info(Workspace& ws);

// The bearer token in `file` (serve_token_file(root) unless configured otherwise), created
// with 32 random bytes as hex, mode 0600, when the file does not exist. A token file that
// others may read is refused (ErrorKind::kIntegrity), as the audit key is; an empty one is
// kInput.
std::string ensure_serve_token(const fs::path& file);

// Removes every file under data/ and checkpoints/ that the index does not reference (slice
// files, the tokenizer, files of live components). Files are content-addressed
// and the index switches to a new file in the same transaction that commits a change, so an
// unreferenced file is either a leftover of a writer that died before its commit or the
// superseded version after one: deleting it finishes the change either way. Call with the
// workspace lock held. Returns the number of files removed.
size_t remove_unreferenced_files(Workspace& ws);

}  // namespace lethe
