#include "src/service/prediction_service.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "src/common/error.h"
#include "src/distributed/comm.h"
#include "src/index/ledger.h"
#include "src/index/lineage_index.h"
#include "src/serving/predict_answers.h"
#include "src/workspace/purge.h"

namespace lethe {

namespace {

// A load can race a writer in another process (its purge removes the checkpoints of what it
// switched off); the head is read before and after, and a load that straddled a commit is
// done again, at most this many times.
constexpr int kLoadAttempts = 5;

}  // namespace

int ServedView::live_components() const {
  int n = 0;
  if (ensemble) {
    for (const ShardView& s : ensemble->view.live) n += static_cast<int>(s.chain.size());
  }
  return n;
}

PredictionService::PredictionService(fs::path root, Config config, std::string mode,
                                     std::shared_ptr<spdlog::logger> log)
    : root_(std::move(root)), config_(std::move(config)), mode_(std::move(mode)), log_(std::move(log)) {
  index_ = std::make_unique<Workspace>(open_workspace(root_));
  {
    std::lock_guard<std::mutex> g(reload_mutex_);
    view_ = load_snapshot();
  }
  batcher_ = std::thread([this] { batch_loop(); });
  purger_ = std::thread([this] { purge_loop(); });
  // A purge that an earlier process left unfinished is finished now, not at the first forget.
  std::lock_guard<std::mutex> g(purge_mutex_);
  purge_wanted_ = true;
  purge_cv_.notify_one();
}

PredictionService::~PredictionService() { stop(); }

// Called with reload_mutex_ held.
std::shared_ptr<const ServedView> PredictionService::load_snapshot() {
  for (int attempt = 1;; ++attempt) {
    auto v = std::make_shared<ServedView>();
    const LedgerHead before = ledger_head(index_->db);
    v->version = before.seq;
    v->ledger_hash = before.hash;
    try {
      Workspace ws = open_workspace(root_);
      v->decoder = RequestDecoder::of(ws);
      v->labels = label_names(ws.db);
      v->ensemble = load_ensemble(ws, config_, mode_);
    } catch (const Error& e) {
      v->ensemble.reset();
      v->not_serving = e.what();
    }
    if (ledger_head(index_->db) == before) {
      if (!v->ensemble) log_->warn("view {}: nothing serves: {}", v->version, v->not_serving);
      return v;
    }
    if (attempt == kLoadAttempts) {
      v->ensemble.reset();
      v->not_serving = "the index kept changing while the view was loaded; the next request tries again";
      return v;
    }
  }
}

std::shared_ptr<const ServedView> PredictionService::refreshed_view() {
  std::lock_guard<std::mutex> g(reload_mutex_);
  std::shared_ptr<const ServedView> now;
  {
    std::lock_guard<std::mutex> v(view_mutex_);
    now = view_;
  }
  const LedgerHead head = ledger_head(index_->db);
  // A view that could not serve because the index moved under it is retried even if the head
  // has not moved again since.
  if (head.seq == now->version && head.hash == now->ledger_hash) return now;
  std::shared_ptr<const ServedView> next = load_snapshot();
  {
    std::lock_guard<std::mutex> v(view_mutex_);
    view_ = next;
  }
  {
    std::lock_guard<std::mutex> c(counters_mutex_);
    ++counters_.reloads;
  }
  log_->info("view {} -> {}: {} live components{}", now->version, next->version, next->live_components(),
             next->ensemble ? "" : " (nothing serves)");
  return next;
}

std::shared_ptr<const ServedView> PredictionService::view() { return refreshed_view(); }

ServiceCounters PredictionService::counters() const {
  std::lock_guard<std::mutex> c(counters_mutex_);
  return counters_;
}

PredictionReply PredictionService::predict(const nlohmann::json& inputs, const std::string& field, bool per_shard) {
  auto job = std::make_unique<Job>();
  {
    std::shared_ptr<const ServedView> v;
    {
      std::lock_guard<std::mutex> g(view_mutex_);
      v = view_;
    }
    job->requests = v->decoder.inputs(inputs, field);
  }
  job->per_shard = per_shard;
  std::future<PredictionReply> done = job->done.get_future();
  {
    std::lock_guard<std::mutex> g(queue_mutex_);
    if (stopping_) fail(ErrorKind::kTimeout, "the service is shutting down");
    queue_.push_back(std::move(job));
  }
  queue_cv_.notify_one();
  return done.get();
}

void PredictionService::batch_loop() {
  const auto max_wait = std::chrono::duration<double, std::milli>(config_.serve.max_wait_ms);
  const size_t max_batch = static_cast<size_t>(config_.serve.max_batch);
  for (;;) {
    std::vector<std::unique_ptr<Job>> jobs;
    {
      std::unique_lock<std::mutex> lk(queue_mutex_);
      queue_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was answered
      // Wait a little for more requests to share the pass, unless the batch is already full.
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::duration_cast<std::chrono::steady_clock::duration>(max_wait);
      auto queued_rows = [&] {
        size_t n = 0;
        for (const auto& j : queue_) n += j->requests.batch.size();
        return n;
      };
      queue_cv_.wait_until(lk, deadline, [&] { return stopping_ || queued_rows() >= max_batch; });
      size_t rows = 0;
      while (!queue_.empty() && (jobs.empty() || rows + queue_.front()->requests.batch.size() <= max_batch)) {
        rows += queue_.front()->requests.batch.size();
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(jobs);
  }
}

void PredictionService::run_batch(std::vector<std::unique_ptr<Job>>& jobs) {
  try {
    // The snapshot is chosen now, after the jobs were queued: a job queued after a forget's
    // acknowledgement never runs on the view before it.
    const std::shared_ptr<const ServedView> view = refreshed_view();
    if (!view->ensemble) fail(ErrorKind::kNotFound, "nothing serves: {}", view->not_serving);
    RecordBatch all = RecordBatch::like(jobs.front()->requests.batch);
    for (const auto& j : jobs) {
      for (size_t i = 0; i < j->requests.batch.size(); ++i) all.append_from(j->requests.batch, i);
    }
    std::vector<uint32_t> rows(all.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
    const EnsembleOutputs o = run_ensemble(Comm{}, *view->ensemble, all, rows, Combine::kMean, false);
    int64_t row = 0;
    for (auto& j : jobs) {
      PredictionReply reply;
      reply.view = view;
      reply.answers = nlohmann::json::array();
      for (size_t i = 0; i < j->requests.batch.size(); ++i, ++row) {
        reply.answers.push_back(prediction_answer(j->requests.ids[i], o, *view->ensemble, view->labels, row, j->per_shard));
      }
      j->done.set_value(std::move(reply));
    }
    std::lock_guard<std::mutex> c(counters_mutex_);
    counters_.predictions += row;
    ++counters_.batches;
  } catch (...) {
    for (auto& j : jobs) {
      try {
        j->done.set_exception(std::current_exception());
      } catch (const std::future_error&) {  // already answered before the failure
      }
    }
  }
}

ForgetReply PredictionService::forget(const ForgetRequest& request) {
  ForgetReply reply;
  {
    std::lock_guard<std::mutex> w(write_mutex_);
    // The lock file names its holder's command for others to read, never the request.
    WritableWorkspace ww = open_workspace_for_write(root_, "lethe serve (forget)");
    reply.result = commit_forget(ww.ws, request, config_.privacy.epsilon_budget);
  }
  // Durable from here. The new view is in place before the caller hears back.
  reply.view = refreshed_view();
  {
    std::lock_guard<std::mutex> c(counters_mutex_);
    ++counters_.forget_requests;
    counters_.deleted_records += reply.result.deleted;
  }
  {
    std::lock_guard<std::mutex> g(purge_mutex_);
    purge_wanted_ = true;
  }
  purge_cv_.notify_one();
  return reply;
}

bool PredictionService::purge_once() {
  try {
    std::lock_guard<std::mutex> w(write_mutex_);
    WritableWorkspace ww = open_workspace_for_write(root_, "lethe serve (purge)");
    const PurgeReport p = purge_pending(ww.ws);
    if (!p.slices.empty() || p.files_removed > 0) {
      log_->info("purged {} slice files and removed {} files{}", p.slices.size(), p.files_removed,
                 p.finished ? "" : " (the write-ahead log is not truncated yet: a reader held it)");
    }
    return p.finished;
  } catch (const Error& e) {
    // Another process holds the lock (a retrain): the purge waits its turn; that process also
    // finishes pending purges when it opens the workspace.
    log_->warn("purge deferred: {}", e.what());
    return false;
  }
}

void PredictionService::purge_loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(purge_mutex_);
      purge_cv_.wait(lk, [&] { return purge_wanted_ || stopped_; });
      if (!purge_wanted_) return;
      purge_wanted_ = false;
      std::lock_guard<std::mutex> c(counters_mutex_);
      counters_.purges_pending = 1;
    }
    const bool finished = purge_once();
    {
      std::lock_guard<std::mutex> c(counters_mutex_);
      counters_.purges_pending = finished ? 0 : 1;
    }
    if (!finished) {
      std::unique_lock<std::mutex> lk(purge_mutex_);
      if (purge_cv_.wait_for(lk, std::chrono::seconds(1), [&] { return stopped_; })) return;
      purge_wanted_ = true;
    }
  }
}

void PredictionService::stop() {
  {
    std::lock_guard<std::mutex> g(queue_mutex_);
    if (stopped_once_) return;
    stopped_once_ = true;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (batcher_.joinable()) batcher_.join();
  {
    std::lock_guard<std::mutex> g(purge_mutex_);
    stopped_ = true;
  }
  purge_cv_.notify_all();
  if (purger_.joinable()) purger_.join();
  // The last acknowledged forget's bytes go before the process does.
  purge_once();
}

}  // namespace lethe
