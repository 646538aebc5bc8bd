// The MPI layer with a single rank (no launcher): every operation is local, MPI untouched.
// Several ranks are tested end to end through mpirun (tests/e2e/train_test.cpp).
#include <catch2/catch.hpp>

#include "src/distributed/comm.h"
#include "tests/support/skip.h"

using namespace lethe;

TEST_CASE("comm: a process without a launcher is one rank and never initialises MPI", "[mpi]") {
  if (launched_by_mpi()) LETHE_SKIP("this test needs a process without a launcher, and this one runs under mpirun");
  MpiSession session;
  CHECK_FALSE(session.initialised());
  const Comm& c = session.comm();
  CHECK(c.rank == 0);
  CHECK(c.size == 1);
  CHECK(c.is_root());
  CHECK(broadcast(c, "plan") == "plan");
  CHECK(gather(c, "mine") == std::vector<std::string>{"mine"});
  CHECK(any_rank(c, true));
  CHECK_FALSE(any_rank(c, false));
  CHECK_FALSE(message_waiting(c, 1));
  barrier(c);
}
