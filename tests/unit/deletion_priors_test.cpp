// Owner-level deletion priors and the slice probabilities BMS gets from them.
#include <catch2/catch.hpp>

#include "shards/deletion_priors.h"
#include "src/common/error.h"
#include "tests/support/error_kind.h"
#include "tests/support/temp_dir.h"

using namespace lethe;

TEST_CASE("deletion priors: read from owner,probability lines", "[priors]") {
  test::TempDir dir;
  write_file_atomic(dir / "p.csv", "owner,probability\nalice,0.5\n\n\"Long, Lazarus\",0.25\n  bob , 1 \n");
  const auto p = read_owner_priors(dir / "p.csv");
  REQUIRE(p.size() == 3);
  CHECK(p.at("alice") == 0.5);
  CHECK(p.at("\"Long, Lazarus\"") == 0.25);  // the last comma separates
  CHECK(p.at("bob") == 1.0);
}

TEST_CASE("deletion priors: bad lines are input errors naming file and line", "[priors]") {
  test::TempDir dir;
  for (const std::string& bad : {std::string("alice,0.5\nbob\n"), std::string("alice,1.5\n"),
                                 std::string("alice,x\n"), std::string("alice,0.1\nalice,0.2\n"),
                                 std::string(",0.3\n")}) {
    INFO(bad);
    write_file_atomic(dir / "p.csv", bad);
    try {
      read_owner_priors(dir / "p.csv");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInput);
      CHECK_THAT(e.what(), Catch::Contains("p.csv:"));
    }
  }
  CHECK(test::kind_of([&] { read_owner_priors(dir / "missing.csv"); }) != ErrorKind::kInternal);
}

TEST_CASE("deletion priors: a slice is hit when any of its owners asks", "[priors]") {
  // 2 shards x 2 slices; cells: shard * 2 + slice.
  const std::vector<std::pair<std::string, int32_t>> cells = {
      {"a", 0}, {"b", 0}, {"c", 1}, {"a", 3}, {"d", 2}};
  const std::map<std::string, double> priors = {{"a", 0.5}, {"b", 0.5}, {"c", 0.1}};
  const auto p = slice_deletion_probabilities(cells, priors, 0.2, 2, 2);
  CHECK(p[0][0] == Approx(0.75));  // 1 - 0.5 * 0.5
  CHECK(p[0][1] == Approx(0.1));
  CHECK(p[1][0] == Approx(0.2));  // d: the default prior
  CHECK(p[1][1] == Approx(0.5));
  // An owner certain to ask makes the slice certain to be hit.
  const auto certain = slice_deletion_probabilities({{"x", 0}, {"y", 0}}, {{"x", 1.0}}, 0.0, 1, 1);
  CHECK(certain[0][0] == 1.0);
}
