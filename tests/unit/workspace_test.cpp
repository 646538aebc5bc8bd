#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "src/common/error.h"
#include "src/workspace/layout.h"
#include "src/workspace/lock.h"
#include "src/index/lineage_schema.h"
#include "src/workspace/workspace.h"
#include "tests/support/error_kind.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

TEST_CASE("workspace: init creates the documented layout", "[workspace]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  Config config;
  config.runtime.threads = 2;
  create_workspace(root, config, {});
  CHECK(fs::is_directory(data_dir(root)));
  CHECK(fs::is_directory(checkpoints_dir(root)));
  CHECK(fs::is_directory(reports_dir(root)));
  CHECK(fs::is_regular_file(index_file(root)));
  Workspace ws = open_workspace(root);
  CHECK(ws.config.runtime.threads == 2);
  const WorkspaceInfo info = workspace_info(ws);
  CHECK(info.workspace_id.size() == 32);
  CHECK(info.origin == "init");
  CHECK(info.schema_version == index_migrations().back().version);
  // Nothing temporary is left next to the workspace.
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK_FALSE(is_temp_name(e.path()));
}

TEST_CASE("workspace: init makes a private workspace (0700, files 0600) whatever the umask", "[workspace]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  const mode_t old = ::umask(0);
  create_workspace(root, Config{}, {});
  { WritableWorkspace w = open_workspace_for_write(root, "test"); }
  ::umask(old);
  CHECK(permission_bits(root) == 0700);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    INFO(e.path());
    CHECK(permission_bits(e.path()) == (e.is_directory() ? 0700u : 0600u));
  }
  // A workspace opened up since (or made before this rule) is closed again by the next writer.
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  { WritableWorkspace w = open_workspace_for_write(root, "test"); }
  CHECK(permission_bits(root) == 0700);
}

TEST_CASE("workspace: init twice is refused without force", "[workspace]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  create_workspace(root, {}, {});
  CHECK(test::kind_of([&] { create_workspace(root, {}, {}); }) == ErrorKind::kConflict);
}

TEST_CASE("workspace: force replaces a workspace with a new identity", "[workspace]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  create_workspace(root, {}, {});
  std::string first_id;
  {
    Workspace ws = open_workspace(root);
    first_id = workspace_info(ws).workspace_id;
  }
  CreateOptions force;
  force.force = true;
  create_workspace(root, {}, force);
  Workspace ws = open_workspace(root);
  CHECK(workspace_info(ws).workspace_id != first_id);
}

TEST_CASE("workspace: force never replaces a directory that is not a workspace", "[workspace]") {
  test::TempDir dir;
  const fs::path root = dir / "precious";
  fs::create_directory(root);
  test::write_text(root / "thesis.tex", "years of work");
  CreateOptions force;
  force.force = true;
  CHECK(test::kind_of([&] { create_workspace(root, {}, force); }) == ErrorKind::kConflict);
  CHECK(fs::exists(root / "thesis.tex"));
}

TEST_CASE("workspace: init into an existing empty directory works", "[workspace]") {
  test::TempDir dir;
  create_workspace(dir.path(), {}, {});
  CHECK(is_workspace(dir.path()));
}

TEST_CASE("workspace: opening a missing workspace is not-found", "[workspace]") {
  test::TempDir dir;
  CHECK(test::kind_of([&] { open_workspace(dir / "nope"); }) == ErrorKind::kNotFound);
}

TEST_CASE("workspace: a second writer is refused and told the holder's PID", "[workspace][lock]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  create_workspace(root, {}, {});
  auto first = open_workspace_for_write(root, "lethe test-holder");
  try {
    open_workspace_for_write(root, "lethe second");
    FAIL("expected the second writer to be refused");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConflict);
    CHECK_THAT(e.what(), Catch::Contains("PID " + std::to_string(getpid())));
    CHECK_THAT(e.what(), Catch::Contains("lethe test-holder"));
  }
}

TEST_CASE("workspace: the lock is released when its holder ends", "[workspace][lock]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  create_workspace(root, {}, {});
  { auto first = open_workspace_for_write(root, "first"); }
  auto second = open_workspace_for_write(root, "second");
  SUCCEED();
}

TEST_CASE("workspace: a writer removes temporary files left by a crashed writer", "[workspace]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  create_workspace(root, {}, {});
  const fs::path leftover = data_dir(root) / ".slice-0-0.h5.tmp.99999";
  test::write_text(leftover, "partial");
  auto w = open_workspace_for_write(root, "recover");
  CHECK_FALSE(fs::exists(leftover));
}

TEST_CASE("workspace: force is refused while another writer holds the lock", "[workspace][lock]") {
  test::TempDir dir;
  const fs::path root = dir / "ws";
  create_workspace(root, {}, {});
  auto holder = WorkspaceLock::acquire(lock_file(root), "holder");
  CreateOptions force;
  force.force = true;
  CHECK(test::kind_of([&] { create_workspace(root, {}, force); }) == ErrorKind::kConflict);
  CHECK(is_workspace(root));
}
