// `lethe bench reduction`: what the data-parallel step's fixed-order sum costs against a plain
// MPI all-reduce, over the ranks of an mpirun (src/trainers/data_parallel.h). Each round, the
// job's M micro-batches of N float gradients are spread over the ranks as training spreads them;
// the fixed-order sum (every micro-batch's gradients to rank 0, added in micro-batch order, the
// sum sent back: what training does) is timed against each rank adding up its own micro-batches
// and MPI_Allreduce summing the ranks' partial sums (whose result depends on R).
#pragma once

#include <cstdint>

#include <nlohmann/json_fwd.hpp>

#include "src/distributed/comm.h"

namespace lethe {

struct ReductionBenchOptions {
  int64_t floats = 131072;   // gradient floats per micro-batch
  int64_t micro_batches = 4;  // per step
  int rounds = 50;            // timed steps (after 3 warm-up steps)
  double timeout = 600;       // runtime.collective_timeout
};

// Called on every rank; the result is complete on rank 0.
nlohmann::json bench_reduction(const Comm& comm, const ReductionBenchOptions& options);

}  // namespace lethe
