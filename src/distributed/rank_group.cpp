#include "src/distributed/rank_group.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "src/common/error.h"

namespace lethe {

namespace {

using Clock = std::chrono::steady_clock;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) fail(ErrorKind::kInternal, "{} failed (MPI error {})", what, rc);
}

int checked_size(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) fail(ErrorKind::kInternal, "MPI message of {} bytes is too large", n);
  return static_cast<int>(n);
}

// Polling a peer that is usually a fraction of a millisecond behind: yield (so that an
// oversubscribed rank that shares the core can run) for the first millisecond, then sleep in
// steps of 50 microseconds, so that a long wait costs no core.
class Backoff {
 public:
  void wait() {
    if (Clock::now() - since_ < std::chrono::milliseconds(1)) {
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  void reset() { since_ = Clock::now(); }

 private:
  Clock::time_point since_ = Clock::now();
};

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

}  // namespace

struct RankGroup::State {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  std::vector<int> members;  // world ranks
  int world_rank = 0;
  double timeout = 600;
  double seconds = 0;
  uint64_t sequence = 0;  // exchanges so far: their tags

  ~State() {
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
  int next_tag() { return 1 + static_cast<int>(sequence++ % 32000); }  // MPI guarantees tags up to 32767

  [[noreturn]] void timed_out(const std::string& what, const std::vector<int>& waiting_for) const {
    fail(ErrorKind::kTimeout,
         "rank {} waited {:.0f} s (runtime.collective_timeout) in the {} of its rank group (ranks {}) for rank{} {}, "
         "which never arrived; the nodes committed so far are kept and a rerun resumes",
         world_rank, timeout, what, rank_list(members), waiting_for.size() == 1 ? "" : "s", rank_list(waiting_for));
  }
};

RankGroup::RankGroup() : state_(std::make_unique<State>()) { state_->members = {0}; }
RankGroup::~RankGroup() = default;
RankGroup::RankGroup(RankGroup&&) noexcept = default;
RankGroup& RankGroup::operator=(RankGroup&&) noexcept = default;

RankGroup RankGroup::split(const Comm& world, const std::vector<int>& members, double timeout_seconds) {
  RankGroup g;
  State& s = *g.state_;
  s.world_rank = world.rank;
  s.timeout = timeout_seconds;
  s.members = members.empty() ? std::vector<int>{world.rank} : members;
  if (std::find(s.members.begin(), s.members.end(), world.rank) == s.members.end() ||
      !std::is_sorted(s.members.begin(), s.members.end())) {
    fail(ErrorKind::kInternal, "rank {} is not a member of the rank group {} it was given", world.rank, rank_list(s.members));
  }
  if (world.size == 1) return g;
  // Colour: the group's leader; ranks of no group take no communicator.
  const int color = members.empty() ? MPI_UNDEFINED : members.front();
  check(MPI_Comm_split(MPI_COMM_WORLD, color, world.rank, &s.comm), "MPI_Comm_split");
  if (s.comm != MPI_COMM_NULL) {
    check(MPI_Comm_rank(s.comm, &s.rank), "MPI_Comm_rank");
    int size = 0;
    check(MPI_Comm_size(s.comm, &size), "MPI_Comm_size");
    if (size != static_cast<int>(s.members.size())) {
      fail(ErrorKind::kInternal, "rank group {} has {} ranks", rank_list(s.members), size);
    }
  }
  return g;
}

int RankGroup::rank() const { return state_->rank; }
int RankGroup::size() const { return static_cast<int>(state_->members.size()); }
const std::vector<int>& RankGroup::members() const { return state_->members; }
double RankGroup::seconds() const { return state_->seconds; }

std::vector<std::string> RankGroup::gather(const std::string& mine, const std::string& what) {
  State& s = *state_;
  if (size() == 1) return {};
  hang_point(fmt::format("exchange.r{}", s.world_rank));
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(s.timeout);
  const int tag = s.next_tag();
  std::vector<std::string> out;
  Backoff backoff;
  if (s.rank != 0) {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Isend(const_cast<char*>(mine.data()), checked_size(mine.size()), MPI_CHAR, 0, tag, s.comm, &request),
          "MPI_Isend");
    for (int done = 0;;) {
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) break;
      if (Clock::now() > deadline) s.timed_out(what, {s.members.front()});
      backoff.wait();
    }
  } else {
    out.resize(s.members.size());
    std::vector<bool> got(s.members.size(), false);
    got[0] = true;
    for (size_t left = s.members.size() - 1; left > 0;) {
      bool progressed = false;
      for (size_t m = 1; m < s.members.size(); ++m) {
        if (got[m]) continue;
        int flag = 0;
        MPI_Status status;
        check(MPI_Iprobe(static_cast<int>(m), tag, s.comm, &flag, &status), "MPI_Iprobe");
        if (!flag) continue;
        int n = 0;
        MPI_Get_count(&status, MPI_CHAR, &n);
        out[m].resize(static_cast<size_t>(n));
        check(MPI_Recv(out[m].data(), n, MPI_CHAR, static_cast<int>(m), tag, s.comm, MPI_STATUS_IGNORE), "MPI_Recv");
        got[m] = true;
        --left;
        progressed = true;
      }
      if (progressed) {
        backoff.reset();
        continue;
      }
      if (Clock::now() > deadline) {
        std::vector<int> missing;
        for (size_t m = 1; m < s.members.size(); ++m) {
          if (!got[m]) missing.push_back(s.members[m]);
        }
        s.timed_out(what, missing);
      }
      backoff.wait();
    }
  }
  s.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  if (!out.empty()) out.erase(out.begin());  // the leader's own slot
  return out;
}

std::string RankGroup::broadcast(std::string value, const std::string& what) {
  State& s = *state_;
  if (size() == 1) return value;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(s.timeout);
  const int tag = s.next_tag();
  Backoff backoff;
  if (s.rank == 0) {
    std::vector<MPI_Request> requests(s.members.size() - 1, MPI_REQUEST_NULL);
    for (size_t m = 1; m < s.members.size(); ++m) {
      check(MPI_Isend(value.data(), checked_size(value.size()), MPI_CHAR, static_cast<int>(m), tag, s.comm,
                      &requests[m - 1]),
            "MPI_Isend");
    }
    for (;;) {
      int done = 0;
      check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
      if (done) break;
      if (Clock::now() > deadline) {
        std::vector<int> missing;  // the members whose receive has not completed
        for (size_t m = 1; m < s.members.size(); ++m) {
          int one = 0;
          check(MPI_Test(&requests[m - 1], &one, MPI_STATUS_IGNORE), "MPI_Test");
          if (!one) missing.push_back(s.members[m]);
        }
        if (missing.empty()) break;  // the last ones completed just now
        s.timed_out(what, missing);
      }
      backoff.wait();
    }
  } else {
    for (;;) {
      int flag = 0;
      MPI_Status status;
      check(MPI_Iprobe(0, tag, s.comm, &flag, &status), "MPI_Iprobe");
      if (flag) {
        int n = 0;
        MPI_Get_count(&status, MPI_CHAR, &n);
        value.assign(static_cast<size_t>(n), '\0');
        check(MPI_Recv(value.data(), n, MPI_CHAR, 0, tag, s.comm, MPI_STATUS_IGNORE), "MPI_Recv");
        break;
      }
      if (Clock::now() > deadline) s.timed_out(what, {s.members.front()});
      backoff.wait();
    }
  }
  s.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  return value;
}

void hang_point(const std::string& name) {
  const char* at = std::getenv("LETHE_HANG_AT");
  if (!at || name != at) return;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

}  // namespace lethe
