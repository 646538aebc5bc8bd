// `lethe train` as a job over R ranks (R >= 1, with or without mpirun). Every rank computes
// the same training plan and the same assignment of its units to ranks (by estimated cost);
// each rank trains its units and writes their node checkpoints; rank 0 alone writes the
// index: it commits its own nodes and those the other ranks send it, one transaction per
// node. Nodes already live with the same inputs, parent and configuration are kept, so an
// interrupted run resumes where it stopped. What a node trains to never depends on R.
#pragma once

#include <spdlog/logger.h>

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shards/sequences.h"
#include "src/common/progress.h"
#include "src/distributed/comm.h"
#include "src/privacy/dp_schedule.h"
#include "src/trainers/training_plan.h"
#include "src/workspace/workspace.h"

namespace lethe {

struct TrainOptions {
  std::string command = "train";   // train | retrain, as recorded in the run's row
  bool restore_sequences = false;  // s3t: the recorded sequences (retrain), not a new selection
  bool from_scratch = false;       // train every node, even where a live one fits
  int64_t max_nodes = -1;          // train at most this many, shallowest first; -1 = all
  // retrain.policy: "all" trains every node that needs it; "service" only what gives every
  // shard one whole sequence again (service_nodes, training_plan.h). Either way the rest count
  // in nodes_left.
  std::string policy = "all";
  // dp2: plan the schedule of a DP node the run trains (a noise search: FFTs with the PRV
  // accountant). Off for a plan that is only looked at (lethe status, report): it never trains.
  bool plan_dp = true;
};

// What a run of the configured mode would do now: the plan, and per node whether a live node
// already fits it (trained on exactly its inputs, from the same parent, base and configuration)
// or this run trains it. Every rank computes the same RunPlan.
struct RunPlan {
  TrainingPlan plan;
  std::string base_hash, config_hash;
  std::vector<std::string> kept_hash, kept_file;  // per node; empty when it needs training
  std::vector<bool> to_train;                     // per node: this run trains it
  int nodes_kept = 0, nodes_to_train = 0;
  int nodes_left = 0;        // need training but beyond max_nodes or outside the policy
  double cost_to_train = 0;  // records the run processes, all epochs
  // The schedule its DP node trains under (dp2's DP base), planned once when the run trains
  // one (and options.plan_dp): its train_node uses it, its checkpoint and the index record it.
  std::optional<DpSchedule> dp_schedule;
  // The most ranks one node's steps can be shared by (train.micro_batch: max_ranks_per_node).
  int max_group = 1;
};

// The DP-SGD schedule a DP node over every live train record trains under now: its privacy
// units counted in the index, the configured target and batch. ErrorKind::kUsage as
// plan_dp_schedule (src/privacy/dp_schedule.h) for settings no run can meet.
DpSchedule live_dp_schedule(Workspace& ws, const Config& config);

// How a run spreads over `ranks` ranks. Without micro-batches each work unit goes whole to one
// rank, the largest first to the least loaded (shards/work_assignment.h). With them, a unit may
// get a group of consecutive ranks that trains its nodes data-parallel (data_parallel.h), up to
// max_group ranks: schedule_run keeps the shortest of every unit whole, a group for every unit
// (when ranks outnumber units), and groups for the heaviest units only. Costs are records
// processed, all epochs, of the nodes the run trains (kept nodes cost nothing); a unit's cost
// is shared evenly by its group (the exchange is not counted).
struct RunSchedule {
  int ranks = 1;
  std::vector<double> unit_cost;  // per plan unit
  std::vector<int> owner;         // per plan unit: its rank; with a group, the first (its leader)
  std::vector<int> group_size;    // per plan unit: its ranks are owner .. owner + group_size - 1
  std::vector<double> rank_load;  // per rank: the costs of its units, each over its group's size
  double total = 0;
  double makespan = 0;     // the largest rank load: the run's length in records
  double lower_bound = 0;  // total / ranks: no schedule is shorter
  int idle_ranks = 0;      // ranks with nothing to train
};
RunSchedule schedule_run(const RunPlan& run, int ranks);
// The world ranks of unit `u`'s group.
std::vector<int> unit_ranks(const RunSchedule& s, size_t u);

// ErrorKind::kUsage without data or a base; kConflict when the base has seen a deleted record
// (everything must be pretrained again); kNotFound for restore_sequences before any training.
RunPlan plan_run(Workspace& ws, const Config& config, const TrainOptions& options);

// How a node trained in this run learned: the mean training loss over the first and the last
// quarter of its optimiser steps.
struct NodeLoss {
  std::string kind;
  int shard = 0;
  std::string prefix;
  double start_loss = 0, end_loss = 0;
};
// As train's JSON reports it, and as ranks send it to rank 0: {kind, shard, prefix, start_loss, end_loss}.
void to_json(nlohmann::json& j, const NodeLoss& l);
void from_json(const nlohmann::json& j, NodeLoss& l);

// One rank's part of a run. Nodes a group trains count on its leader (nodes_trained, samples,
// losses); group_nodes counts, on every member of a group of several ranks, the nodes it helped
// train. The run's wall time on each rank splits into: computing its nodes (train), exchanging
// their gradients with its group, which includes waiting there for slower members
// (communicate), committing nodes to the index (rank 0: commit), and the rest (wait: planning,
// loading, and having nothing to do until the last rank is done).
struct RankTotals {
  int rank = 0;
  int nodes_trained = 0;
  int nodes_reused = 0;
  int group_nodes = 0;
  int64_t samples = 0;  // records processed, all epochs
  double train_seconds = 0, communicate_seconds = 0, commit_seconds = 0;
  double wait_seconds = 0;  // the run's wall time less the others; rank 0 fills it in
  std::vector<NodeLoss> losses;  // of the nodes this rank trained
};
// As train's JSON reports it and ranks send it to rank 0 (with "training_share": train seconds
// over the run's wall time, when `wall` > 0).
nlohmann::json rank_totals_json(const RankTotals& t, double wall = 0);
RankTotals rank_totals_from_json(const nlohmann::json& j);

struct TrainReport {
  std::string mode;
  int shards = 0;
  int nodes = 0;                   // in the plan
  int nodes_trained = 0;
  int nodes_reused = 0;            // already trained on the same data (resume)
  int nodes_left = 0;              // not trained because of max_nodes
  int stages_without_sharing = 0;  // s3t: B x L x shards
  int64_t samples = 0;
  double seconds = 0;
  std::map<int, std::vector<Sequence>> sequences;  // per shard
  std::vector<RankTotals> ranks;                   // complete on rank 0
  std::vector<NodeLoss> node_losses;               // every node trained, by (shard, prefix); rank 0
};

// Called on every rank. Rank 0's `ws` is open for writing (its lock held); the others'
// read-only, opened after rank 0's (recovery must not remove their new files).
// Rank 0 records the run (training_runs) and each node's cost (component_costs).
TrainReport train_model(Workspace& ws, const Comm& comm, const Config& config, const TrainOptions& options,
                        const ProgressOptions& progress, spdlog::logger& log);

// train_model with the run already planned by plan_run(ws, config, options) on every rank, from
// the state the run starts in (lethe retrain plans once to decide whether to run at all).
TrainReport train_planned(Workspace& ws, const Comm& comm, const Config& config, const TrainOptions& options,
                          const RunPlan& run, const ProgressOptions& progress, spdlog::logger& log);

// Rank 0: one transaction records a trained node, its lineage edges (every slice it has seen, at
// the hash it saw), its cost, its ledger entry and the retirement of a live node of the same name
// trained on other inputs. `record` is what a rank sends: {type: "node", kind, shard, prefix,
// file, hash, seen: [{slice_id, hash}], samples, seconds[, privacy]}. Public so that unit tests
// can register nodes of their own without training.
void commit_node(Workspace& ws, const nlohmann::json& record, spdlog::logger& log);

}  // namespace lethe
