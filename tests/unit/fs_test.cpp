#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "src/common/error.h"
#include "src/common/fs.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

TEST_CASE("fs: write_file_atomic creates and replaces, leaving no temporary file", "[fs]") {
  test::TempDir dir;
  const fs::path p = dir / "file.txt";
  write_file_atomic(p, "first");
  CHECK(read_file(p) == "first");
  write_file_atomic(p, "second, longer");
  CHECK(read_file(p) == "second, longer");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++entries;
    CHECK_FALSE(is_temp_name(e.path()));
  }
  CHECK(entries == 1);
}

TEST_CASE("fs: write_file_atomic sets the requested mode", "[fs]") {
  test::TempDir dir;
  const fs::path p = dir / "secret.key";
  write_file_atomic(p, "k", 0600);
  const auto perms = fs::status(p).permissions();
  CHECK((perms & fs::perms::group_read) == fs::perms::none);
  CHECK((perms & fs::perms::others_read) == fs::perms::none);
}

TEST_CASE("fs: files and directories are private by default, whatever the umask", "[fs]") {
  test::TempDir dir;
  const mode_t old = ::umask(0);  // a file left to the umask would be 0666
  write_file_atomic(dir / "data.bin", "personal");
  write_file_atomic(dir / "raw.bin", "personal", 0644);  // an explicit mode is exact too
  {
    std::FILE* f = std::fopen((dir / ".slice.tmp").c_str(), "w");  // as HDF5 creates its files
    REQUIRE(f != nullptr);
    std::fclose(f);
  }
  commit_rename(dir / ".slice.tmp", dir / "slice.h5");
  create_private_directory(dir / "a" / "b");
  ::umask(old);
  CHECK(permission_bits(dir / "data.bin") == 0600);
  CHECK(permission_bits(dir / "raw.bin") == 0644);
  CHECK(permission_bits(dir / "slice.h5") == 0600);
  CHECK(permission_bits(dir / "a" / "b") == 0700);
}

TEST_CASE("fs: temporary names are recognisable", "[fs]") {
  CHECK(is_temp_name(temp_sibling("/ws/data/slice-0-0.h5")));
  CHECK(temp_sibling("/ws/data/x.h5").parent_path() == "/ws/data");
  CHECK_FALSE(is_temp_name("/ws/data/slice-0-0.h5"));
  CHECK_FALSE(is_temp_name("/ws/.hidden"));
}

TEST_CASE("fs: reading a missing file is not-found naming the path", "[fs]") {
  try {
    read_file("/nonexistent/x");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/x"));
  }
}
