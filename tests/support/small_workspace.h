// A small workspace for unit tests of the deletion rules, made in milliseconds and without
// training: text records go in through the ingest library, and every node of the S3T training
// plan is registered through commit_node (what `lethe train` commits) with a fake checkpoint
// file, having seen the slices of its prefix. Forget, purge, audit verify and certificates see
// a workspace shaped like a trained one.
#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "src/config/config.h"
#include "src/ingest/ingest.h"
#include "src/unlearning/forget.h"
#include "src/workspace/workspace.h"

namespace lethe::test {

// A logger that drops everything.
spdlog::logger& quiet_log();

// `n` text records rec-<first>.. in the train split, record i owned by owner-<i % owners>, its
// payload payload_of(i) (a string searched for in files after a purge).
std::string payload_of(int64_t i);
LoadedSource text_records(int64_t first, int64_t n, int64_t owners);

// JSONL source, no public or test split, `shards` x `slices` planned at random, `sequences`
// cyclic sequences per shard.
Config small_config(int shards, int slices, int sequences);

// Creates the workspace at `root` and ingests `source` (or appends it).
void create_small_workspace(const fs::path& root, const Config& config, LoadedSource source);
void ingest_more(const fs::path& root, const Config& config, LoadedSource source);

// Registers every node of the configured S3T plan as trained. Returns the component IDs by
// (shard, prefix name), e.g. {0, "1.2"}.
using NodeIds = std::map<std::pair<int, std::string>, int64_t>;
NodeIds register_s3t_nodes(Workspace& ws);

// A train record (its ID) of slice (shard, slice).
std::string record_in(Workspace& ws, int shard, int slice);

// Forgets the IDs in one request named `request_id`.
ForgetResult forget_ids(Workspace& ws, const std::vector<std::string>& ids, const std::string& request_id);

// Runs `body` in a child process started with LETHE_CRASH_AT=`point` (src/common/crash_point.h)
// and returns whether it was killed there. The caller must hold no open workspace: SQLite
// connections do not survive a fork.
bool killed_at(const char* point, const std::function<void()>& body);

// Every file under `root` whose bytes contain `needle`.
std::vector<std::string> files_containing(const fs::path& root, const std::string& needle);

}  // namespace lethe::test
