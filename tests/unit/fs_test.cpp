#include <catch2/catch.hpp>

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
