// `lethe serve` end to end, on copies of the shared trained workspace (Fashion-MNIST, 4 shards x
// 2 slices, S3T): authentication and bad requests, the view switch a forget's acknowledgement
// promises, SIGTERM under load, and retraining by another process swapped in while serving.
#include <catch2/catch.hpp>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "src/index/lineage_index.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/serve_process.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"
#include "tests/support/venv_python.h"

using namespace lethe;
using namespace lethe::test;
using Clock = std::chrono::steady_clock;

namespace {

// An image input of the workspace's shape (28 x 28 pixels), different for each `seed`.
nlohmann::json image_input(int seed) {
  std::vector<int> pixels(784);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<int>((i * 7 + static_cast<size_t>(seed) * 31) % 256);
  return {{"id", seed}, {"image", pixels}};
}

nlohmann::json predict_body(int seed, bool per_shard = true) {
  return {{"inputs", {image_input(seed), image_input(seed + 1)}}, {"per_shard", per_shard}};
}

// Train record IDs of slice `slice`, one per shard, shard order.
std::vector<std::string> one_id_per_shard(const fs::path& ws, int slice) {
  Workspace w = open_workspace(ws);
  Stmt q = w.db.prepare(
      "SELECT MIN(r.id) FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND s.slice = ? "
      "GROUP BY s.shard ORDER BY s.shard");
  q.bind(1, static_cast<int64_t>(slice));
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

// Train record IDs of slice `slice` in every shard, at most `count`.
std::vector<std::string> slice_ids(const fs::path& ws, int slice, int count) {
  Workspace w = open_workspace(ws);
  Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND "
                        "s.slice = ? ORDER BY r.rid LIMIT ?");
  q.bind(1, static_cast<int64_t>(slice));
  q.bind(2, static_cast<int64_t>(count));
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::vector<std::string> train_ids(const fs::path& ws, int count) {
  Workspace w = open_workspace(ws);
  Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND "
                        "r.rid % 13 = 0 ORDER BY r.rid LIMIT ?");
  q.bind(1, static_cast<int64_t>(count));
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

// One prediction as a client saw it.
struct Seen {
  Clock::time_point sent, received;
  int status = 0;
  int64_t view_version = -1;
  std::set<std::pair<int, std::string>> nodes;  // (shard, node) that answered
};

// Clients that predict in a loop until stopped, recording what they saw.
class Predictors {
 public:
  Predictors(const ServeProcess& serve, int clients) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, &serve, c] {
        auto client = serve.client();
        for (int i = 0; !stop_; ++i) {
          Seen s;
          s.sent = Clock::now();
          const JsonReply r = post_json(*client, "/v1/predict", predict_body(c * 100000 + i));
          s.received = Clock::now();
          s.status = r.status;
          if (r.status == 200) {
            s.view_version = r.body.at("view_version").get<int64_t>();
            for (const auto& p : r.body.at("predictions")) {
              for (const auto& sh : p.at("shards")) s.nodes.insert({sh.at("shard").get<int>(), sh.at("node").get<std::string>()});
            }
          }
          std::lock_guard<std::mutex> g(mutex_);
          seen_.push_back(std::move(s));
        }
      });
    }
  }
  ~Predictors() { finish(); }
  std::vector<Seen> finish() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    std::lock_guard<std::mutex> g(mutex_);
    return seen_;
  }
  size_t count() {
    std::lock_guard<std::mutex> g(mutex_);
    return seen_.size();
  }
  void wait_for_more(size_t n) {
    const size_t start = count();
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (count() < start + n && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Seen> seen_;
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("serve: forget without a token is 401, with a wrong one 403, and neither deletes, and bad bodies are 400 naming "
          "the field, oversize ones 413",
          "[trained][serve]") {
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  // Debug logging: every request is logged, and none of it may name a record or a request.
  ServeProcess serve(ws, {"--set", "serve.max_body_bytes=65536", "--log-level", "debug"});
  auto c = serve.client();
  const int64_t version = serve.listening().at("view_version").get<int64_t>();

  const JsonReply ok = post_json(*c, "/v1/predict", predict_body(1));
  REQUIRE(ok.status == 200);
  CHECK(ok.body.at("view_version").get<int64_t>() == version);
  REQUIRE(ok.body.at("predictions").size() == 2);
  CHECK(ok.body["predictions"][0].at("id") == 1);
  CHECK(ok.body["predictions"][0].at("shards").size() == 4);

  const std::string id = train_ids(ws, 1).at(0);
  const nlohmann::json forget = {{"ids", {id}}, {"request_id", "R-401"}};
  const JsonReply none = post_json(*c, "/v1/forget", forget);
  CHECK(none.status == 401);
  CHECK(none.body.at("error").at("kind") == "unauthorized");
  const JsonReply wrong = post_json(*c, "/v1/forget", forget, std::string(64, 'a'));
  CHECK(wrong.status == 403);
  CHECK(wrong.body.at("error").at("kind") == "forbidden");
  const JsonReply status = get_json(*c, "/v1/status");
  REQUIRE(status.status == 200);
  CHECK(status.body.at("splits").at("train").at("deleted") == 0);
  CHECK(status.body.at("serving").at("view_version").get<int64_t>() == version);
  CHECK(get_json(*c, "/v1/requests/R-401").status == 401);
  CHECK(get_json(*c, "/v1/requests/R-401", std::string(64, 'a')).status == 403);
  CHECK(get_json(*c, "/v1/requests/R-401", serve.token()).status == 404);

  const JsonReply short_image = post_json(*c, "/v1/predict", {{"inputs", {{{"image", {1, 2}}}}}});
  CHECK(short_image.status == 400);
  CHECK_THAT(short_image.body.at("error").at("message").get<std::string>(),
             Catch::Contains("inputs[0]") && Catch::Contains("image"));
  const auto not_json = c->Post("/v1/predict", "{\"inputs\": [", "application/json");
  REQUIRE(not_json);
  CHECK(not_json->status == 400);
  CHECK_THAT(not_json->body, Catch::Contains("not valid JSON"));
  const JsonReply ids_not_list = post_json(*c, "/v1/forget", {{"ids", id}}, serve.token());
  CHECK(ids_not_list.status == 400);
  CHECK_THAT(ids_not_list.body.at("error").at("message").get<std::string>(), Catch::Contains("'ids'"));
  const JsonReply unknown = post_json(*c, "/v1/forget", {{"ids", {"no-such-record"}}}, serve.token());
  CHECK(unknown.status == 404);
  std::vector<nlohmann::json> many(120, image_input(3));  // 120 x 784 pixels: about 250 KB
  const JsonReply big = post_json(*c, "/v1/predict", {{"inputs", many}});
  CHECK(big.status == 413);
  // A chunked body has no length to check first: refused before it is read.
  const std::string chunk = predict_body(1).dump();
  const auto chunked = c->Post("/v1/predict", [&](size_t offset, httplib::DataSink& sink) {
    if (offset == 0) sink.write(chunk.data(), chunk.size());
    else sink.done();
    return true;
  }, "application/json");
  REQUIRE(chunked);
  CHECK(chunked->status == 411);
  CHECK(get_json(*c, "/nowhere").status == 404);
  const auto put = c->Put("/v1/predict", "{}", "application/json");
  REQUIRE(put);
  CHECK(put->status == 405);
  CHECK(put->get_header_value("Allow") == "POST");

  const auto metrics = c->Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK_THAT(metrics->body, Catch::Contains("lethe_http_requests_total{route=\"/v1/forget\",code=\"401\"} 1") &&
                                Catch::Contains("lethe_http_requests_total{route=\"/v1/forget\",code=\"403\"} 1") &&
                                Catch::Contains("lethe_view_version " + std::to_string(version)) &&
                                Catch::Contains("lethe_http_request_duration_seconds_bucket{route=\"/v1/predict\""));
  CHECK(metrics->body.find("R-401") == std::string::npos);  // routes, never paths

  const ProcessResult r = serve.stop(SIGTERM);
  CHECK(r.exit_code == 0);
  CHECK(nlohmann::json::parse(lines_of(r.out).back()).at("event") == "stopped");
  CHECK_THAT(r.err, Catch::Contains("/v1/predict 200"));  // the request log was on
  for (const std::string& secret : {id, std::string("no-such-record"), std::string("R-401")}) {
    INFO(secret);
    CHECK(r.err.find(secret) == std::string::npos);
  }
  // Nothing was deleted by the refused requests.
  CHECK(lethe_json(ws, {"status"})["splits"]["train"]["deleted"] == 0);
}

TEST_CASE("serve: every prediction that starts after a forget's acknowledgement uses its view and no node it switched off",
          "[trained][serve]") {
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  // One record of slice 0 per shard: each forget switches off, in its shard, stage 1 of
  // sequence "0.1" and stage 2 of "1.0"; the shard keeps serving "1".
  const std::vector<std::string> ids = one_id_per_shard(ws, 0);
  REQUIRE(ids.size() == 4);
  ServeProcess serve(ws, {"--set", "serve.max_wait_ms=1"});
  auto c = serve.client();

  struct Ack {
    Clock::time_point at;
    int64_t version = 0;
    std::set<std::pair<int, std::string>> off;
  };
  std::vector<Ack> acks;
  std::vector<Seen> seen;
  {
    Predictors predictors(serve, 3);
    predictors.wait_for_more(10);
    for (size_t k = 0; k < ids.size(); ++k) {
      const JsonReply r = post_json(*c, "/v1/forget", {{"ids", {ids[k]}}, {"request_id", "R" + std::to_string(k)}},
                                    serve.token());
      REQUIRE(r.status == 200);
      Ack a;
      a.at = Clock::now();
      a.version = r.body.at("view_version").get<int64_t>();
      CHECK(r.body.at("deleted") == 1);
      CHECK(r.body.at("serving") == true);
      for (const auto& d : r.body.at("deactivated")) a.off.insert({d.at("shard").get<int>(), d.at("node").get<std::string>()});
      CHECK(!a.off.empty());
      acks.push_back(a);
      predictors.wait_for_more(10);
    }
    seen = predictors.finish();
  }

  std::set<std::pair<int, std::string>> off;  // switched off by the acknowledged forgets so far
  int64_t after_last = 0, stale_before_first = 0;
  for (size_t k = 0; k < acks.size(); ++k) {
    off.insert(acks[k].off.begin(), acks[k].off.end());
    if (k > 0) CHECK(acks[k].version > acks[k - 1].version);
    for (const Seen& s : seen) {
      if (s.sent <= acks[k].at) continue;
      REQUIRE(s.status == 200);
      CHECK(s.view_version >= acks[k].version);
      for (const auto& node : s.nodes) {
        INFO("prediction sent after forget " << k << " used shard " << node.first << " node " << node.second);
        CHECK(off.count(node) == 0);
      }
      if (k + 1 == acks.size()) ++after_last;
    }
  }
  // The check has power: before the first forget, predictions used nodes that it then switched off.
  for (const Seen& s : seen) {
    if (s.received >= acks.front().at) continue;
    for (const auto& node : s.nodes) stale_before_first += acks.front().off.count(node);
  }
  CHECK(stale_before_first > 0);
  CHECK(after_last >= 10);
  for (const Seen& s : seen) CHECK(s.status == 200);
  CHECK(serve.stop(SIGTERM).exit_code == 0);
}

TEST_CASE("serve: SIGTERM during load loses no acknowledged forget, and their bytes are purged", "[trained][serve]") {
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  const std::vector<std::string> ids = train_ids(ws, 40);
  ServeProcess serve(ws);
  std::vector<std::string> acknowledged;
  std::atomic<int> acks{0};
  std::atomic<bool> forgetter_done{false};
  std::thread forgetter([&] {
    auto c = serve.client();
    for (size_t k = 0; k < ids.size(); ++k) {
      const std::string request = "DSR-" + std::to_string(k);
      const JsonReply r = post_json(*c, "/v1/forget", {{"ids", {ids[k]}}, {"request_id", request}}, serve.token());
      if (r.status != 200) break;  // the server went away: its answer never came
      acknowledged.push_back(request);
      ++acks;
    }
    forgetter_done = true;
  });
  struct Joiner {  // joined whatever a REQUIRE below does
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{forgetter};
  ProcessResult stopped;
  {
    Predictors predictors(serve, 2);
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (acks < 5 && !forgetter_done && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(acks >= 5);
    stopped = serve.stop(SIGTERM);
    forgetter.join();
    for (const Seen& s : predictors.finish()) CHECK((s.status == 200 || s.status == 503 || s.status == 0));
  }
  INFO(stopped.err);
  CHECK(stopped.exit_code == 0);
  CHECK(nlohmann::json::parse(lines_of(stopped.out).back()).at("purge_finished") == true);
  REQUIRE(acknowledged.size() >= 5);
  // Every acknowledged request is in the workspace, purged, with a certificate; the ledger holds.
  for (const std::string& request : acknowledged) {
    const ProcessResult cert = lethe_in(ws, {"--json", "audit", "certificate", "--request", request});
    INFO(request << ": " << cert.err);
    CHECK(cert.exit_code == 0);
  }
  CHECK(lethe_in(ws, {"audit", "verify"}).exit_code == 0);
}

TEST_CASE("serve: a retraining committed by another process is swapped in while requests keep being answered",
          "[trained][serve]") {
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  ServeProcess serve(ws);
  auto c = serve.client();
  const std::string id = one_id_per_shard(ws, 0).at(2);
  const JsonReply f = post_json(*c, "/v1/forget", {{"ids", {id}}}, serve.token());
  REQUIRE(f.status == 200);
  const int64_t after_forget = f.body.at("view_version").get<int64_t>();
  // The purge runs after the acknowledgement, under the workspace lock; retrain waits for it.
  for (int i = 0; i < 200 && get_json(*c, "/v1/status").body.at("serving").at("purge_pending") == true; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const JsonReply before = post_json(*c, "/v1/predict", predict_body(5));
  REQUIRE(before.status == 200);
  std::map<int, int> stages_before;
  for (const auto& sh : before.body["predictions"][0]["shards"]) stages_before[sh["shard"].get<int>()] = sh["stages"].get<int>();
  CHECK(stages_before.at(2) == 1);

  std::vector<Seen> seen;
  {
    Predictors predictors(serve, 2);
    const ProcessResult retrained = lethe_in(ws, {"--json", "retrain"});
    INFO(retrained.err);
    REQUIRE(retrained.exit_code == 0);
    predictors.wait_for_more(10);
    seen = predictors.finish();
  }
  for (const Seen& s : seen) CHECK(s.status == 200);  // no request dropped or refused
  const JsonReply after = post_json(*c, "/v1/predict", predict_body(5));
  REQUIRE(after.status == 200);
  CHECK(after.body.at("view_version").get<int64_t>() > after_forget);
  for (const auto& sh : after.body["predictions"][0]["shards"]) CHECK(sh["stages"] == 2);
  CHECK(seen.back().view_version > after_forget);
  CHECK(serve.stop(SIGTERM).exit_code == 0);
}

TEST_CASE("serve: a forget committed by another process that leaves nothing serving gets 503, never the old view",
          "[trained][serve]") {
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  ServeProcess serve(ws);
  auto c = serve.client();
  REQUIRE(post_json(*c, "/v1/predict", predict_body(1)).status == 200);
  // A record of each slice of every shard: every sequence's first stage goes off.
  std::vector<std::string> args = {"--json", "forget"};
  for (int slice = 0; slice < 2; ++slice) {
    for (const std::string& id : one_id_per_shard(ws, slice)) args.insert(args.end(), {"--id", id});
  }
  REQUIRE(args.size() == 2 + 16);
  const ProcessResult f = lethe_in(ws, args);
  INFO(f.err);
  REQUIRE(f.exit_code == 0);
  const JsonReply after = post_json(*c, "/v1/predict", predict_body(2));
  CHECK(after.status == 503);
  CHECK(after.body.at("error").at("kind") == "not_serving");
  const JsonReply health = get_json(*c, "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body.at("serving") == false);
  CHECK(health.body.at("view_version").get<int64_t>() > serve.listening().at("view_version").get<int64_t>());
  const auto metrics = c->Get("/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body, Catch::Contains("lethe_live_shards 0"));
  CHECK(serve.stop(SIGTERM).exit_code == 0);
}

TEST_CASE("serve: schemathesis finds every route answering as docs/openapi.yaml declares", "[trained][serve][interop]") {
  LETHE_SKIP_WITHOUT_VENV();
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  ServeProcess serve(ws);
  // Generated requests, 20 per operation and phase, deterministic; loopback only.
  const ProcessResult r = run_process({LETHE_PYTHON, interop_script("serve_schemathesis.py").string(), "--spec",
                                       (fs::path(LETHE_SOURCE_DIR) / "docs/openapi.yaml").string(), "--url",
                                       "http://127.0.0.1:" + std::to_string(serve.port()), "--token", serve.token(),
                                       "--payload", "image", "--size", "784", "--examples", "20"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("No issues found"));
  CHECK(serve.stop(SIGTERM).exit_code == 0);
}

TEST_CASE("serve: mixed load on loopback, predictions from 4 clients and 10 forgets a second for 10 s, gets no error",
          "[trained][serve][load]") {
  LETHE_SKIP_WITHOUT_VENV();
  TempDir dir;
  const fs::path ws = dir / "ws";
  copy_trained_workspace(ws);
  // Records of the last slice: every shard keeps serving its first stage however many go.
  std::string ids;
  for (const std::string& id : slice_ids(ws, 1, 150)) ids += id + "\n";
  write_file_atomic(dir / "ids.txt", ids);
  ServeProcess serve(ws);
  // tests/load/serve_load.py measures; here only its count of errors is checked (no timing).
  const ProcessResult r = run_process({LETHE_PYTHON, (fs::path(LETHE_SOURCE_DIR) / "tests/load/serve_load.py").string(),
                                       "--url", "http://127.0.0.1:" + std::to_string(serve.port()), "--token",
                                       serve.token(), "--ids", (dir / "ids.txt").string(), "--seconds", "10",
                                       "--clients", "4", "--forgets-per-second", "10", "--max-requests", "50000"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json report = nlohmann::json::parse(r.out);
  CHECK(report.at("errors") == 0);
  CHECK(report.at("forgets") == 100);
  CHECK(report.at("predictions").get<int64_t>() > 0);
  const ProcessResult stopped = serve.stop(SIGTERM);
  CHECK(stopped.exit_code == 0);
  const nlohmann::json result = nlohmann::json::parse(lines_of(stopped.out).back());
  CHECK(result.at("forget_requests") == 100);
  CHECK(result.at("purge_finished") == true);
}
