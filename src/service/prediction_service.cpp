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
// A view that could not serve is loaded again after this long even if the index has not
// moved (a transient failure: too many open files, an I/O error).
constexpr auto kRetryFailedView = std::chrono::seconds(1);

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
  // This process purges with its own writer (purge_loop), never on a read path.
  index_ = std::make_unique<Workspace>(open_workspace(root_, PendingPurge::kLeave));
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
  std::shared_ptr<const ServedView> previous;
  {
    std::lock_guard<std::mutex> g(view_mutex_);
    previous = view_;
  }
  for (int attempt = 1;; ++attempt) {
    auto v = std::make_shared<ServedView>();
    v->loaded_at = std::chrono::steady_clock::now();
    const LedgerHead before = ledger_head(index_->db);
    v->head = before;
    try {
      Workspace ws = open_workspace(root_, PendingPurge::kLeave);
      v->decoder = RequestDecoder::of(ws);
      v->labels = label_names(ws.db);
      View view = servable_view(ws, config_, mode_);
      // A deletion in a slice whose nodes are already off changes nothing that serves: the
      // loaded members are kept (their tensors are shared, never changed).
      if (previous && previous->ensemble && same_components(previous->ensemble->view, view)) {
        v->ensemble = previous->ensemble;
      } else {
        v->ensemble = load_view(ws, config_, std::move(view));
      }
    } catch (const std::exception& e) {  // fail closed, whatever failed
      v->ensemble.reset();
      v->not_serving = e.what();
    }
    if (ledger_head(index_->db) == before) {
      if (!v->ensemble) log_->warn("view {}: nothing serves: {}", v->version(), v->not_serving);
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
  const bool unchanged = ledger_head(index_->db) == now->head;
  if (unchanged && (now->ensemble || std::chrono::steady_clock::now() - now->loaded_at < kRetryFailedView)) return now;
  std::shared_ptr<const ServedView> next = load_snapshot();
  set_view(next);
  {
    std::lock_guard<std::mutex> c(counters_mutex_);
    ++counters_.reloads;
  }
  const bool changed = now->ensemble.has_value() != next->ensemble.has_value() ||
                       (next->ensemble && !same_components(now->ensemble->view, next->ensemble->view));
  log_->log(changed ? spdlog::level::info : spdlog::level::debug, "view {} -> {}: {} live components{}", now->version(),
            next->version(), next->live_components(), next->ensemble ? "" : " (nothing serves)");
  return next;
}

void PredictionService::set_view(std::shared_ptr<const ServedView> view) {
  std::lock_guard<std::mutex> v(view_mutex_);
  view_ = std::move(view);
}

std::shared_ptr<const ServedView> PredictionService::view() { return refreshed_view(); }

ServiceCounters PredictionService::counters() const {
  std::lock_guard<std::mutex> c(counters_mutex_);
  return counters_;
}

PredictionReply PredictionService::predict(const nlohmann::json& inputs, const std::string& field, bool per_shard) {
  if (!inputs.is_array()) fail(ErrorKind::kInput, "\"{}\" must be an array of inputs", field);
  auto job = std::make_unique<Job>();
  job->inputs = inputs;
  job->field = field;
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
        for (const auto& j : queue_) n += j->inputs.size();
        return n;
      };
      queue_cv_.wait_until(lk, deadline, [&] { return stopping_ || queued_rows() >= max_batch; });
      size_t rows = 0;
      while (!queue_.empty() && (jobs.empty() || rows + queue_.front()->inputs.size() <= max_batch)) {
        rows += queue_.front()->inputs.size();
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(jobs);
  }
}

void PredictionService::run_batch(std::vector<std::unique_ptr<Job>>& jobs) {
  std::shared_ptr<const ServedView> view;
  try {
    // The snapshot is chosen now, after the jobs were queued: a job queued after a forget's
    // acknowledgement never runs on the view before it. Inputs are decoded with this view's
    // tokenizer, the one its models were trained with.
    view = refreshed_view();
    if (!view->ensemble) fail(ErrorKind::kNotFound, "nothing serves: {}", view->not_serving);
  } catch (...) {
    for (auto& j : jobs) j->done.set_exception(std::current_exception());
    return;
  }
  // A job whose inputs are bad fails alone; the others share the pass.
  std::vector<Job*> ready;
  std::vector<PredictRequests> decoded;
  for (auto& j : jobs) {
    try {
      decoded.push_back(view->decoder.inputs(j->inputs, j->field));
      ready.push_back(j.get());
    } catch (...) {
      j->done.set_exception(std::current_exception());
    }
  }
  if (ready.empty()) return;
  try {
    RecordBatch all = RecordBatch::like(decoded.front().batch);
    for (const PredictRequests& d : decoded) {
      for (size_t i = 0; i < d.batch.size(); ++i) all.append_from(d.batch, i);
    }
    std::vector<uint32_t> rows(all.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint32_t>(i);
    const EnsembleOutputs o = run_ensemble(Comm{}, *view->ensemble, all, rows, Combine::kMean, false);
    std::vector<PredictionReply> replies(ready.size());
    int64_t row = 0;
    for (size_t k = 0; k < ready.size(); ++k) {
      replies[k].view = view;
      replies[k].answers = nlohmann::json::array();
      for (size_t i = 0; i < decoded[k].batch.size(); ++i, ++row) {
        replies[k].answers.push_back(
            prediction_answer(decoded[k].ids[i], o, *view->ensemble, view->labels, row, ready[k]->per_shard));
      }
    }
    for (size_t k = 0; k < ready.size(); ++k) ready[k]->done.set_value(std::move(replies[k]));
    std::lock_guard<std::mutex> c(counters_mutex_);
    counters_.predictions += row;
    ++counters_.batches;
  } catch (...) {
    for (Job* j : ready) j->done.set_exception(std::current_exception());
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
  // Durable from here: whatever happens next, the caller hears that, and the bytes are purged.
  {
    std::lock_guard<std::mutex> c(counters_mutex_);
    ++counters_.forget_requests;
    counters_.deleted_records += reply.result.deleted;
    counters_.purges_pending = 1;
  }
  {
    std::lock_guard<std::mutex> g(purge_mutex_);
    purge_wanted_ = true;
  }
  purge_cv_.notify_one();
  // The new view is in place before the caller hears back; if it cannot be loaded, nothing
  // serves (never the view from before the deletion).
  try {
    reply.view = refreshed_view();
  } catch (const std::exception& e) {
    auto closed = std::make_shared<ServedView>();
    closed->loaded_at = std::chrono::steady_clock::now();
    closed->not_serving = std::string("the view after a deletion could not be loaded: ") + e.what();
    set_view(closed);
    reply.view = closed;
  }
  return reply;
}

PredictionService::PurgeOutcome PredictionService::purge_once() {
  try {
    std::lock_guard<std::mutex> w(write_mutex_);
    WritableWorkspace ww = open_workspace_for_write(root_, "lethe serve (purge)");
    const PurgeReport p = purge_pending(ww.ws);
    if (!p.slices.empty() || p.files_removed > 0) {
      log_->info("purged {} slice files and removed {} files{}", p.slices.size(), p.files_removed,
                 p.finished ? "" : " (the write-ahead log is not truncated yet: a reader held it)");
    }
    return p.finished ? PurgeOutcome::kFinished : PurgeOutcome::kRetry;
  } catch (const Error& e) {
    // Another process holds the lock (a retrain): the purge waits its turn; that process also
    // finishes pending purges when it opens the workspace.
    if (e.kind() == ErrorKind::kConflict) {
      log_->debug("purge deferred: {}", e.what());
      return PurgeOutcome::kRetry;
    }
    log_->error("purge failed: {}; the next writer of the workspace finishes it", e.what());
  } catch (const std::exception& e) {
    log_->error("purge failed: {}; the next writer of the workspace finishes it", e.what());
  }
  return PurgeOutcome::kFailed;
}

void PredictionService::purge_loop() {
  auto backoff = std::chrono::milliseconds(250);
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::milli>(config_.serve.purge_interval_ms));
  auto last_start = std::chrono::steady_clock::now() - interval;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(purge_mutex_);
      purge_cv_.wait(lk, [&] { return purge_wanted_ || stopped_; });
      if (!purge_wanted_) return;
      // Forgets that come in the meantime share this purge's rewrite of their slice files.
      if (purge_cv_.wait_until(lk, last_start + interval, [&] { return stopped_; })) return;  // stop() purges
      purge_wanted_ = false;
    }
    last_start = std::chrono::steady_clock::now();
    const PurgeOutcome outcome = purge_once();
    {
      std::lock_guard<std::mutex> c(counters_mutex_);
      counters_.purges_pending = outcome == PurgeOutcome::kFinished ? 0 : 1;
    }
    if (outcome != PurgeOutcome::kRetry) {
      backoff = std::chrono::milliseconds(250);
      continue;
    }
    std::unique_lock<std::mutex> lk(purge_mutex_);
    if (purge_cv_.wait_for(lk, backoff, [&] { return stopped_; })) return;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
    purge_wanted_ = true;
  }
}

bool PredictionService::stop() {
  {
    std::lock_guard<std::mutex> g(queue_mutex_);
    if (stopped_once_) return purge_finished_;
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
  // The last acknowledged forget's bytes go before the process does: a few tries while another
  // writer holds the lock, then the answer says whether they are gone.
  PurgeOutcome outcome = purge_once();
  for (int i = 0; outcome == PurgeOutcome::kRetry && i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    outcome = purge_once();
  }
  std::lock_guard<std::mutex> g(queue_mutex_);
  purge_finished_ = outcome == PurgeOutcome::kFinished;
  return purge_finished_;
}

}  // namespace lethe
