// The ranks that train one work unit together (data parallelism inside a unit), and the two
// exchanges their optimiser steps need: every member's bytes to the group's leader, and the
// leader's bytes back to every member. The leader is the group's first (lowest) world rank.
//
// The exchanges are point to point on the group's own MPI communicator (apart from the node
// commits on MPI_COMM_WORLD), polled against a deadline: a member that never arrives is named
// in a kTimeout error after runtime.collective_timeout seconds instead of being waited for
// forever. A group of one never touches MPI.
//
// This is the one interface the trainers see. It moves host bytes; on a GPU the trainers copy
// a step's gradient sums to the host and back (docs/distributed.md says what that costs, and
// that an NCCL path behind this interface is still to come).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/distributed/comm.h"

namespace lethe {

class RankGroup {
 public:
  RankGroup();  // alone: this rank only
  ~RankGroup();
  RankGroup(RankGroup&&) noexcept;
  RankGroup& operator=(RankGroup&&) noexcept;

  // Collective over every rank of `world`: each rank names the world ranks of its group
  // (ascending, containing its own rank), or none when it belongs to no group. Groups must not
  // overlap, and every member must name the same list.
  static RankGroup split(const Comm& world, const std::vector<int>& members, double timeout_seconds);

  int rank() const;  // within the group: 0 is the leader
  int size() const;
  bool is_leader() const { return rank() == 0; }
  const std::vector<int>& members() const;  // world ranks, ascending

  // Leader: the other members' `mine`, in member order (member 1's first; its own is not
  // echoed). Others: empty, once the leader has it. `what` names the exchange in a timeout's
  // message.
  std::vector<std::string> gather(const std::string& mine, const std::string& what);
  // Every member: the leader's `value` (the others' argument is ignored).
  std::string broadcast(std::string value, const std::string& what);

  // Wall seconds spent in gather and broadcast so far (including waiting for slower members).
  double seconds() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Stops the calling process for good when it was started with LETHE_HANG_AT=<name>: how the
// tests make one rank hang in a collective (as a stuck GPU or a lost node would).
void hang_point(const std::string& name);

}  // namespace lethe
