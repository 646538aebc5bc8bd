// The MPI layer: which rank this process is, and the few collective operations Lethe needs,
// on strings (JSON documents) and float buffers. With one process (no launcher) every
// operation is a local no-op and MPI is never initialised, so `lethe train` runs the same
// code with or without mpirun.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lethe {

struct Comm {
  int rank = 0;
  int size = 1;
  bool is_root() const { return rank == 0; }
};

// Owns MPI_Init/MPI_Finalize for the process. MPI is initialised only when a launcher
// started us (mpirun, srun: OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK in the environment);
// otherwise the session is a single rank.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  const Comm& comm() const { return comm_; }
  bool initialised() const { return initialised_; }

 private:
  Comm comm_;
  bool initialised_ = false;
};

// True when the environment says a launcher started this process.
bool launched_by_mpi();

// Ends every rank at once with `exit_code`: how one rank's error stops the job rather than
// leaving the others blocked in a collective. With one rank it simply exits.
[[noreturn]] void abort_job(const Comm& comm, int exit_code);

void barrier(const Comm& comm);

// `root`'s `value` on every rank.
std::string broadcast(const Comm& comm, std::string value, int root = 0);

// Every rank's `value`, in rank order, on `root` (empty elsewhere).
std::vector<std::string> gather(const Comm& comm, const std::string& value, int root = 0);

// Point-to-point messages (sent with an Outbox, below): `tag` keeps the kinds of messages
// apart; messages from one rank with one tag arrive in the order they were sent.
struct Message {
  int source = -1;
  std::string value;
};
Message receive(const Comm& comm, int tag);  // from any rank; blocks

// Sends that never wait for the receiver to be ready (a blocking send of even a small message
// may wait until the receiver posts its receive): each message is kept until delivered.
// Messages posted to one rank with one tag arrive in order.
class Outbox {
 public:
  explicit Outbox(const Comm& comm);
  ~Outbox();  // waits for everything posted to be delivered, unless an error is unwinding
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  void post(int dest, int tag, std::string value);
  void flush();  // returns once every posted message has been delivered

 private:
  struct Pending;
  Comm comm_;
  std::vector<std::unique_ptr<Pending>> pending_;
};
bool message_waiting(const Comm& comm, int tag);  // without blocking

// True on every rank when `mine` is true on any: lets ranks agree that one of them failed.
bool any_rank(const Comm& comm, bool mine);

// Every rank's `data` summed element-wise in place (MPI_Allreduce): the order of the additions is
// MPI's and may depend on the rank count, so training never uses it (src/trainers/data_parallel.h);
// `lethe bench reduction` measures it against the fixed-order sum.
void allreduce_sum(const Comm& comm, float* data, size_t n);

}  // namespace lethe
