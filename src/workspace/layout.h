// Where things live inside a workspace. One function per path so that no caller builds paths
// by hand.
#pragma once

#include "src/common/fs.h"

namespace lethe {

inline fs::path config_file(const fs::path& ws) { return ws / "lethe.toml"; }
inline fs::path data_dir(const fs::path& ws) { return ws / "data"; }
inline fs::path checkpoints_dir(const fs::path& ws) { return ws / "checkpoints"; }
inline fs::path reports_dir(const fs::path& ws) { return ws / "reports"; }
inline fs::path index_file(const fs::path& ws) { return ws / "lineage.db"; }
inline fs::path lock_file(const fs::path& ws) { return ws / "lethe.lock"; }
// The ledger's signing key and the ID-hashing secret (mode 0600). The ledger itself is a table
// of the index (index_file; src/index/ledger.h), written in the same transaction as each change.
inline fs::path audit_key_file(const fs::path& ws) { return ws / "audit.key"; }
// The bearer token that `lethe serve` requires for deletions (mode 0600), unless
// serve.token_file names another file.
inline fs::path serve_token_file(const fs::path& ws) { return ws / "serve.token"; }

}  // namespace lethe
