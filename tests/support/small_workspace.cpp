#include "tests/support/small_workspace.h"

#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "src/common/hash.h"
#include "src/index/lineage_index.h"
#include "src/trainers/train_run.h"
#include "src/trainers/training_plan.h"
#include "src/workspace/layout.h"

namespace lethe::test {

spdlog::logger& quiet_log() {
  static auto log = std::make_shared<spdlog::logger>("unit-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return *log;
}

std::string payload_of(int64_t i) { return "<payload of record " + std::to_string(i) + ">"; }

LoadedSource text_records(int64_t first, int64_t n, int64_t owners) {
  LoadedSource s;
  s.description = "test records";
  s.label_names = {"a", "b"};
  for (int64_t i = first; i < first + n; ++i) {
    s.records.ids.push("rec-" + std::to_string(i));
    s.records.owners.push("owner-" + std::to_string(i % owners));
    s.records.payloads.push(payload_of(i));
    s.records.labels.push_back(static_cast<int32_t>(i % 2));
    s.records.splits.push_back(Split::kTrain);
  }
  return s;
}

Config small_config(int shards, int slices, int sequences) {
  Config c;
  c.data.source = "jsonl";
  c.data.public_fraction = 0;
  c.data.test_fraction = 0;
  c.plan.shards = shards;
  c.plan.slices = slices;
  c.plan.strategy = "random";
  c.train.sequences = sequences;
  c.train.selection = "cyclic";
  return c;
}

namespace {

void ingest_into(const fs::path& root, const Config& config, LoadedSource source, bool append) {
  WritableWorkspace w = open_workspace_for_write(root, "test ingest");
  IngestOptions o;
  o.append = append;
  o.progress.style = ProgressStyle::kSilent;
  ingest(w.ws, config, std::move(source), o, quiet_log());
}

}  // namespace

void create_small_workspace(const fs::path& root, const Config& config, LoadedSource source) {
  create_workspace(root, config, {});
  ingest_into(root, config, std::move(source), false);
}

void ingest_more(const fs::path& root, const Config& config, LoadedSource source) {
  ingest_into(root, config, std::move(source), true);
}

NodeIds register_s3t_nodes(Workspace& ws) {
  std::vector<SliceRow> train;
  for (const SliceRow& s : list_slices(ws.db)) {
    if (s.kind == "train") train.push_back(s);
  }
  const int shards = static_cast<int>(ws.config.plan.shards), slices = static_cast<int>(ws.config.plan.slices);
  const TrainingPlan plan = plan_training("s3t", shards, slices, ws.config.train, train);
  const auto slice_of = [&](int shard, int slice) -> const SliceRow& {
    for (const SliceRow& s : train) {
      if (s.shard == shard && s.slice == slice) return s;
    }
    FAIL("no train slice " << shard << "/" << slice);
    return train.front();
  };
  for (const NodeSpec& n : plan.nodes) {
    const std::string bytes = "fake checkpoint of s3t node " + std::to_string(n.shard) + "/" + n.name;
    const std::string file = "checkpoints/s3t-" + std::to_string(n.shard) + "-" + n.name + ".fake";
    write_file_atomic(ws.root / file, bytes);
    nlohmann::json seen = nlohmann::json::array();
    for (int l : n.prefix) {
      const SliceRow& s = slice_of(n.shard, l);
      seen.push_back({{"slice_id", s.slice_id}, {"hash", s.hash}});
    }
    commit_node(ws,
                {{"type", "node"}, {"kind", "s3t"}, {"shard", n.shard}, {"prefix", n.name}, {"file", file},
                 {"hash", blake2b_hex(bytes)}, {"seen", seen}, {"samples", 0}, {"seconds", 0.0}},
                quiet_log());
  }
  NodeIds out;
  for (const ComponentRow& c : live_components(ws.db, "s3t")) out[{c.shard, c.prefix}] = c.component_id;
  REQUIRE(out.size() == plan.nodes.size());
  return out;
}

std::string record_in(Workspace& ws, int shard, int slice) {
  Stmt q = ws.db.prepare(
      "SELECT r.id FROM records r JOIN slices s USING (slice_id) "
      "WHERE s.kind = 'train' AND s.shard = ? AND s.slice = ? AND r.status = 0 ORDER BY r.rid LIMIT 1");
  q.bind(1, static_cast<int64_t>(shard)).bind(2, static_cast<int64_t>(slice));
  REQUIRE(q.step());
  return q.text(0);
}

ForgetResult forget_ids(Workspace& ws, const std::vector<std::string>& ids, const std::string& request_id) {
  ForgetRequest req;
  req.ids = ids;
  req.request_id = request_id;
  return commit_forget(ws, req, 0);
}

bool killed_at(const char* point, const std::function<void()>& body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("LETHE_CRASH_AT", point, 1);
    try {
      body();
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);  // never reached the crash point
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

std::vector<std::string> files_containing(const fs::path& root, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && read_file(e.path()).find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

}  // namespace lethe::test
