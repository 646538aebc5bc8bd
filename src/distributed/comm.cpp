#include "src/distributed/comm.h"

#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <exception>

#include "src/common/error.h"

namespace lethe {

namespace {

int checked_size(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) fail(ErrorKind::kInternal, "MPI message of {} bytes is too large", n);
  return static_cast<int>(n);
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) fail(ErrorKind::kInternal, "{} failed (MPI error {})", what, rc);
}

}  // namespace

bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK");
}

MpiSession::MpiSession() {
  if (!launched_by_mpi()) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &comm_.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &comm_.size);
}

MpiSession::~MpiSession() {
  if (initialised_) MPI_Finalize();
}

void abort_job(const Comm& comm, int exit_code) {
  if (comm.size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

void barrier(const Comm& comm) {
  if (comm.size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

std::string broadcast(const Comm& comm, std::string value, int root) {
  if (comm.size == 1) return value;
  uint64_t n = value.size();
  check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
  value.resize(n);
  check(MPI_Bcast(value.data(), checked_size(n), MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
  return value;
}

std::vector<std::string> gather(const Comm& comm, const std::string& value, int root) {
  if (comm.size == 1) return {value};
  const int mine = checked_size(value.size());
  std::vector<int> sizes(static_cast<size_t>(comm.size));
  check(MPI_Gather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<int> offsets(sizes.size(), 0);
  size_t total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = checked_size(total);
    total += static_cast<size_t>(sizes[r]);
  }
  std::string all(comm.rank == root ? total : 0, '\0');
  check(MPI_Gatherv(value.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR,
                    root, MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> out;
  if (comm.rank != root) return out;
  for (size_t r = 0; r < sizes.size(); ++r) {
    out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(sizes[r])));
  }
  return out;
}

Message receive(const Comm& comm, int tag) {
  MPI_Status status;
  check(MPI_Probe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &status), "MPI_Probe");
  int n = 0;
  MPI_Get_count(&status, MPI_CHAR, &n);
  Message m;
  m.source = status.MPI_SOURCE;
  m.value.resize(static_cast<size_t>(n));
  check(MPI_Recv(m.value.data(), n, MPI_CHAR, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
  return m;
}

struct Outbox::Pending {
  std::string value;
  MPI_Request request = MPI_REQUEST_NULL;
};

Outbox::Outbox(const Comm& comm) : comm_(comm) {}

Outbox::~Outbox() {
  // Unwinding from an error (a timeout, say): the job ends with MPI_Abort next, and waiting
  // here for a rank that may be the one that hangs would keep it from getting there.
  if (std::uncaught_exceptions() > 0) return;
  try {
    flush();
  } catch (...) {  // a failed delivery is the job's end anyway (MPI aborts)
  }
}

void Outbox::post(int dest, int tag, std::string value) {
  auto p = std::make_unique<Pending>();
  p->value = std::move(value);
  check(MPI_Isend(p->value.data(), checked_size(p->value.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD, &p->request),
        "MPI_Isend");
  pending_.push_back(std::move(p));
  // Forget what has been delivered, so that a long run does not keep every message.
  size_t kept = 0;
  for (auto& q : pending_) {
    int done = 0;
    check(MPI_Test(&q->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (!done) pending_[kept++] = std::move(q);
  }
  pending_.resize(kept);
}

void Outbox::flush() {
  for (auto& p : pending_) check(MPI_Wait(&p->request, MPI_STATUS_IGNORE), "MPI_Wait");
  pending_.clear();
}

bool message_waiting(const Comm& comm, int tag) {
  if (comm.size == 1) return false;
  int flag = 0;
  check(MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
  return flag != 0;
}

bool any_rank(const Comm& comm, bool mine) {
  if (comm.size == 1) return mine;
  int in = mine ? 1 : 0, out = 0;
  check(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return out != 0;
}

void allreduce_sum(const Comm& comm, float* data, size_t n) {
  if (comm.size == 1) return;
  check(MPI_Allreduce(MPI_IN_PLACE, data, checked_size(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

}  // namespace lethe
