#include "src/workspace/scratch_copy.h"

#include "src/common/error.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

void copy_private_file(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to);
  fs::permissions(to, static_cast<fs::perms>(kPrivateFileMode));
}

// Copies the tree `from` to `to`, every directory 0700 and every file 0600 (inside the 0700
// copy, so not visible to others even before its chmod).
void copy_private_tree(const fs::path& from, const fs::path& to) {
  create_private_directory(to);
  for (const auto& e : fs::directory_iterator(from)) {
    const fs::path target = to / e.path().filename();
    if (e.is_directory()) {
      copy_private_tree(e.path(), target);
    } else if (e.is_regular_file()) {
      copy_private_file(e.path(), target);
    }
  }
}

std::string sql_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

ScratchCopy::ScratchCopy(WritableWorkspace& original, const std::string& purpose)
    : root_(temp_sibling(original.ws.root / purpose)) {
  const fs::path& from = original.ws.root;
  fs::remove_all(root_);
  try {
    create_private_directory(root_);
    for (const fs::path& file : {config_file(from), audit_key_file(from)}) copy_private_file(file, root_ / file.filename());
    copy_private_tree(data_dir(from), data_dir(root_));
    copy_private_tree(checkpoints_dir(from), checkpoints_dir(root_));
    create_private_directory(reports_dir(root_));
    // The index through SQLite (a consistent snapshot, whatever the write-ahead log holds),
    // into a file created private first: VACUUM INTO writes into an empty file.
    write_file_atomic(index_file(root_), "");
    original.ws.db.exec("VACUUM INTO " + sql_quoted(index_file(root_).string()));
  } catch (...) {
    std::error_code ec;
    fs::remove_all(root_, ec);
    throw;
  }
}

ScratchCopy::~ScratchCopy() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

}  // namespace lethe
