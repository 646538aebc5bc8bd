// A private working copy of a workspace, for runs that must not change it (`lethe bench dp2`).
// The copy holds everything the workspace holds (slices, checkpoints, the index, audit.key),
// so it is made where the workspace's own protection applies: inside the workspace (0700),
// under a temporary name, with 0700 directories and 0600 files, while the caller holds the
// workspace's write lock. It is removed when the ScratchCopy goes; after a crash, the next
// writer removes it with the other temporary leftovers (open_workspace_for_write).
#pragma once

#include <string>

#include "src/workspace/workspace.h"

namespace lethe {

class ScratchCopy {
 public:
  // Copies `original` (opened for writing: its lock is held) to `<root>/.<purpose>.tmp.<pid>`.
  ScratchCopy(WritableWorkspace& original, const std::string& purpose);
  ~ScratchCopy();
  ScratchCopy(const ScratchCopy&) = delete;
  ScratchCopy& operator=(const ScratchCopy&) = delete;

  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
};

}  // namespace lethe
