// The setup of the shared trained workspace (tests/support/trained_workspace.h): hidden from a
// plain run, started by ctest once before the tests tagged [trained] (tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#include "tests/support/trained_workspace.h"

TEST_CASE("fixture: the trained workspace the tests tagged [trained] copy", "[.fixture]") {
  lethe::test::build_trained_workspace();
}
