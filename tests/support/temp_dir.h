// A fresh directory under $TMPDIR, removed with everything in it when the object goes away.
#pragma once

#include "src/common/fs.h"

namespace lethe::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Writes `text` to `path` (test fixtures; not atomic on purpose: tests need plain files).
void write_text(const fs::path& path, const std::string& text);

}  // namespace lethe::test
