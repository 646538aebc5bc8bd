// The model side of `lethe serve`: the serving view as an immutable snapshot, swapped whole;
// predictions batched over concurrent requests; deletions that take effect before they are
// acknowledged. No HTTP here (src/cli/cmd_serve.cpp speaks it).
//
// The rules, in the order a reader needs them:
//   - A snapshot (ServedView) is the live view of one index state, named by the ledger head it
//     was read at (its `version`), with every member's weights loaded and verified. It never
//     changes; predictions hold a shared_ptr to the one they started on.
//   - Every model pass first asks the index for its ledger head (one row) and, when it moved
//     (a forget or a retrain committed, by this process or any other), loads the new view before
//     it runs. So a change committed anywhere serves from the next pass on (hot reload), and a
//     pass never starts on a view older than the index it saw.
//   - forget() commits (src/unlearning/forget.h), then swaps in the new view, then returns: an
//     acknowledged deletion is durable and no pass that starts afterwards uses a component it
//     switched off. Passes already running finish on their snapshot. The bytes are purged
//     afterwards by a background thread under the workspace lock (as `lethe forget` does after
//     its acknowledgement); stop() finishes that purge.
//   - When the new view cannot serve (no shard has a live first stage, or a checkpoint fails
//     its check), the snapshot serves nothing: fail closed, never the old view.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/config/config.h"
#include "src/index/ledger.h"
#include "src/serving/ensemble.h"
#include "src/serving/predict_input.h"
#include "src/unlearning/forget.h"

namespace spdlog {
class logger;
}

namespace lethe {

struct ServedView {
  LedgerHead head;                   // the ledger head when it was read
  std::chrono::steady_clock::time_point loaded_at;
  std::optional<Ensemble> ensemble;  // empty: nothing serves
  std::string not_serving;           // why, when empty
  RequestDecoder decoder;
  std::vector<std::string> labels;

  int64_t version() const { return head.seq; }  // the view version clients see
  int live_components() const;                  // nodes in the serving chains
};

struct PredictionReply {
  std::shared_ptr<const ServedView> view;  // the snapshot that answered
  nlohmann::json answers;                  // one per input, in order
};

struct ForgetReply {
  ForgetResult result;
  std::shared_ptr<const ServedView> view;  // swapped in before this returns
};

struct ServiceCounters {
  int64_t predictions = 0;       // inputs answered
  int64_t batches = 0;           // model passes
  int64_t reloads = 0;           // snapshots loaded after the first
  int64_t forget_requests = 0;
  int64_t deleted_records = 0;
  int64_t purges_pending = 0;    // 1 from a forget's commit until its purge has finished
};

class PredictionService {
 public:
  // Loads the first snapshot of `mode` from the workspace at `root`.
  PredictionService(fs::path root, Config config, std::string mode, std::shared_ptr<spdlog::logger> log);
  ~PredictionService();
  PredictionService(const PredictionService&) = delete;
  PredictionService& operator=(const PredictionService&) = delete;

  // Answers `inputs` (a JSON array, as parse_predict_inputs reads it) in the next model pass;
  // they are decoded there, with that pass's view (its tokenizer). ErrorKind::kInput for a bad
  // input (naming "<field>[i]"), kNotFound when nothing serves.
  PredictionReply predict(const nlohmann::json& inputs, const std::string& field, bool per_shard);

  // Commits the deletion and swaps the view, then returns. Errors as commit_forget, and
  // kConflict while another process holds the workspace's write lock. Once committed it always
  // returns: when the new view cannot be loaded, nothing serves (result.view has no ensemble).
  ForgetReply forget(const ForgetRequest& request);

  // The current snapshot, after catching up with the index.
  std::shared_ptr<const ServedView> view();
  ServiceCounters counters() const;
  const fs::path& root() const { return root_; }
  const Config& config() const { return config_; }

  // Answers what is queued, finishes the pending purge and stops the threads. Idempotent.
  // True when no purge is left pending.
  bool stop();

 private:
  struct Job {
    nlohmann::json inputs;
    std::string field;
    bool per_shard = false;
    std::promise<PredictionReply> done;
  };

  std::shared_ptr<const ServedView> load_snapshot();
  std::shared_ptr<const ServedView> refreshed_view();
  void batch_loop();
  void run_batch(std::vector<std::unique_ptr<Job>>& jobs);
  void purge_loop();
  enum class PurgeOutcome { kFinished, kRetry, kFailed };
  PurgeOutcome purge_once();
  void set_view(std::shared_ptr<const ServedView> view);

  fs::path root_;
  Config config_;
  std::string mode_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Workspace> index_;  // read-only connection for the ledger head; under reload_mutex_

  std::mutex reload_mutex_;                     // one loader at a time; guards index_
  mutable std::mutex view_mutex_;               // guards view_
  std::shared_ptr<const ServedView> view_;

  std::mutex write_mutex_;                      // one writer (forget or purge) at a time

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;

  std::mutex purge_mutex_;
  std::condition_variable purge_cv_;
  bool purge_wanted_ = false;

  mutable std::mutex counters_mutex_;
  ServiceCounters counters_;

  std::thread batcher_, purger_;
  bool stopped_ = false;
  bool stopped_once_ = false;  // under queue_mutex_
  bool purge_finished_ = true;
};

}  // namespace lethe
