// lethe serve: the HTTP face of src/service/prediction_service.h. Routes, authentication,
// limits, metrics and shutdown live here; what serves and when a deletion takes effect do not.
// docs/openapi.yaml describes every route.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <optional>
#include <thread>

#include "src/audit/certificate.h"
#include "src/cli/context.h"
#include "src/cli/status_report.h"
#include "src/common/error.h"
#include "src/common/json_input.h"
#include "src/index/deletion_requests.h"
#include "src/index/lineage_index.h"
#include "src/service/prediction_service.h"
#include "src/service/service_metrics.h"
#include "src/workspace/layout.h"

namespace lethe {

namespace {

struct ServeFlags {
  std::optional<std::string> host;
  std::optional<int64_t> port;
  std::optional<std::string> mode;
};

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage:
    case ErrorKind::kInput: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kTimeout: return 503;
    case ErrorKind::kIntegrity:
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& kind, const std::string& message) {
  reply_json(res, status, {{"error", {{"kind", kind}, {"message", message}}}});
}

// The body as a JSON object; kInput (400) when it is not one.
nlohmann::json body_object(const httplib::Request& req) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kInput, "the request body is not valid JSON ({})", e.what());
  }
  if (!j.is_object()) fail(ErrorKind::kInput, "the request body must be a JSON object");
  return j;
}

std::vector<std::string> string_list(const nlohmann::json& j, const char* name) {
  std::vector<std::string> out;
  if (!j.contains(name) || j.at(name).is_null()) return out;
  const nlohmann::json& v = j.at(name);
  if (!v.is_array()) fail(ErrorKind::kInput, "request body: field '{}' must be an array of strings", name);
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string() || v[i].get<std::string>().empty()) {
      fail(ErrorKind::kInput, "request body: {}[{}] must be a non-empty string", name, i);
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

// The route template a path belongs to, for metrics and logs: never the path itself, which
// may carry a request ID.
std::string route_of(const httplib::Request& req) {
  static const std::vector<std::string> fixed = {"/v1/predict", "/v1/forget", "/v1/status", "/metrics", "/healthz"};
  for (const auto& r : fixed) {
    if (req.path == r) return r;
  }
  if (req.path.rfind("/v1/requests/", 0) == 0) return "/v1/requests/{id}";
  return "other";
}

// The one method each route takes.
std::string method_of(const std::string& route) {
  return route == "/v1/predict" || route == "/v1/forget" ? "POST" : "GET";
}

// Constant-time comparison of the presented bearer token with the configured one.
bool token_matches(const std::string& presented, const std::string& expected) {
  return presented.size() == expected.size() &&
         sodium_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

// The stop signals' pipe (see run_serve) and the byte that says listen ended by itself.
int g_stop_pipe[2] = {-1, -1};
constexpr char kListenEnded = 0;

void on_stop_signal(int sig) {
  const char byte = static_cast<char>(sig);
  const ssize_t ignored = ::write(g_stop_pipe[1], &byte, 1);
  (void)ignored;
}

// When the request started, per HTTP worker thread (each serves one request at a time).
thread_local std::chrono::steady_clock::time_point request_start;

class Routes {
 public:
  Routes(Context& ctx, PredictionService& service, std::string token)
      : ctx_(ctx), service_(service), token_(std::move(token)) {}

  void install(httplib::Server& svr) {
    svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      request_start = std::chrono::steady_clock::now();
      // serve.max_body_bytes holds only for a body whose length is announced: refuse chunked
      // and compressed bodies (a small gzip body can inflate without bound) before reading one.
      if (req.method == "POST") {
        if (req.has_header("Transfer-Encoding") || !req.has_header("Content-Length")) {
          reply_error(res, 411, "length_required", "a request body needs a Content-Length (no chunked bodies)");
          return httplib::Server::HandlerResponse::Handled;
        }
        const std::string encoding = req.get_header_value("Content-Encoding");
        if (!encoding.empty() && encoding != "identity") {
          reply_error(res, 415, "unsupported_encoding", "request bodies are not decompressed: send them uncompressed");
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    svr.Post("/v1/predict", guarded([this](const auto& req, auto& res) { predict(req, res); }));
    svr.Post("/v1/forget", guarded([this](const auto& req, auto& res) { forget(req, res); }));
    svr.Get("/v1/status", guarded([this](const auto& req, auto& res) { status(req, res); }));
    svr.Get(R"(/v1/requests/([^/]+))", guarded([this](const auto& req, auto& res) { request(req, res); }));
    svr.Get("/metrics", guarded([this](const auto&, auto& res) {
      const auto view = service_.view();
      res.set_content(metrics_.render(service_.counters(), *view), "text/plain; version=0.0.4");
    }));
    svr.Get("/healthz", guarded([this](const auto&, auto& res) {
      const auto view = service_.view();
      reply_json(res, 200, {{"status", "ok"}, {"view_version", view->version()}, {"serving", view->ensemble.has_value()}});
    }));
    // Errors the server finds itself (no route, body too large, malformed request) get the
    // same JSON body as the routes' own; a body a route already set is kept.
    svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      // A route that exists, asked with a method it does not take: 405 with the one it does.
      const std::string route = route_of(req);
      if (route != "other" && (res.status == 400 || res.status == 404)) {
        const std::string allowed = method_of(route);
        if (req.method != allowed && !(allowed == "GET" && req.method == "HEAD")) {
          res.set_header("Allow", allowed == "GET" ? "GET, HEAD" : allowed);
          reply_error(res, 405, "method_not_allowed", fmt::format("{} takes {} only", route, allowed));
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      const char* kind = res.status == 404 ? "not_found" : res.status == 413 ? "too_large" : "http";
      const std::string message = res.status == 404   ? "no such route"
                                  : res.status == 413 ? "the request body is larger than serve.max_body_bytes"
                                                      : fmt::format("HTTP {}", res.status);
      reply_error(res, res.status, kind, message);
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
      const std::string route = route_of(req);
      metrics_.observe(route, res.status, seconds);
      // The route, never the path or the body: no record ID or owner reaches the log.
      ctx_.log->debug("{} {} {} {:.1f} ms", req.method, route, res.status, seconds * 1e3);
    });
  }

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Errors become JSON answers with the status their kind maps to.
  Handler guarded(Handler h) {
    return [h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
      try {
        h(req, res);
      } catch (const Error& e) {
        reply_error(res, http_status(e.kind()), kind_name(e.kind()), e.what());
      } catch (const std::exception& e) {
        reply_error(res, 500, "internal", e.what());
      }
    };
  }

  void predict(const httplib::Request& req, httplib::Response& res) {
    const nlohmann::json body = body_object(req);
    if (!body.contains("inputs")) fail(ErrorKind::kInput, "request body: no 'inputs' array");
    const bool per_shard = json_bool(body, "per_shard", "request body", false);
    PredictionReply r;
    try {
      r = service_.predict(body.at("inputs"), "inputs", per_shard);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
      reply_error(res, 503, "not_serving", e.what());  // fail closed: nothing may serve now
      return;
    }
    reply_json(res, 200, {{"view_version", r.view->version()}, {"predictions", r.answers}});
  }

  // Deletions and what is known about them need the token: 401 without one, 403 with another.
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Authorization")) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_error(res, 401, "unauthorized", "this route needs 'Authorization: Bearer <token>' (serve.token_file)");
      return false;
    }
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.compare(0, prefix.size(), prefix) != 0 || !token_matches(auth.substr(prefix.size()), token_)) {
      reply_error(res, 403, "forbidden", "the bearer token does not match serve.token_file");
      return false;
    }
    return true;
  }

  void forget(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    const nlohmann::json body = body_object(req);
    ForgetRequest fr;
    fr.ids = string_list(body, "ids");
    fr.owners = string_list(body, "owners");
    if (fr.ids.empty() && fr.owners.empty()) {
      fail(ErrorKind::kInput, "request body: nothing to forget: name records in 'ids' or owners in 'owners'");
    }
    fr.request_id = json_string(body, "request_id", "request body", "");
    fr.reason = json_string(body, "reason", "request body", "");
    fr.skip_missing = json_bool(body, "skip_missing", "request body", false);
    fr.retrain_dp_base = json_bool(body, "retrain_dp_base", "request body", false);
    const ForgetReply r = service_.forget(fr);
    nlohmann::json deactivated = nlohmann::json::array();
    for (const ComponentRow& c : r.result.deactivated) {
      deactivated.push_back({{"kind", c.kind}, {"shard", c.shard}, {"node", c.prefix}});
    }
    ctx_.log->info("forget request committed: {} records deleted, {} components switched off; view {}",
                   r.result.deleted, r.result.deactivated.size(), r.view->version());
    reply_json(res, 200, {{"request_id", r.result.request_id},
                          {"deleted", r.result.deleted},
                          {"already_deleted", r.result.already_deleted},
                          {"missing_ids", r.result.missing_ids},
                          {"missing_owners", r.result.missing_owners},
                          {"deactivated", deactivated},
                          {"view_version", r.view->version()},
                          {"serving", r.view->ensemble.has_value()}});
  }

  void status(const httplib::Request&, httplib::Response& res) {
    const auto view = service_.view();
    Workspace ws = open_workspace(service_.root());
    StatusReport s = status_report(ws, service_.config());
    const ServiceCounters c = service_.counters();
    s.json["serving"] = {{"view_version", view->version()},
                         {"serving", view->ensemble.has_value()},
                         {"live_components", view->live_components()},
                         {"live_shards", view->ensemble ? view->ensemble->view.live.size() : 0},
                         {"not_serving", view->ensemble ? nlohmann::json(nullptr) : nlohmann::json(view->not_serving)},
                         {"purge_pending", c.purges_pending != 0}};
    reply_json(res, 200, s.json);
  }

  void request(const httplib::Request& req, httplib::Response& res) {
    // Whether someone asked for an erasure is itself personal: the token is required.
    if (!authorized(req, res)) return;
    const std::string id = req.matches[1];
    Workspace ws = open_workspace(service_.root(), PendingPurge::kLeave);
    const auto stored = find_request(ws.db, ws.audit, id);
    const auto row = stored ? request_row(ws.db, *stored) : std::nullopt;
    if (!row) fail(ErrorKind::kNotFound, "no forget request '{}'", id);
    nlohmann::json out = {{"request_id", id},
                          {"state", row->status},
                          {"created_at", row->created_at},
                          {"deleted", row->deleted},
                          {"certificate", nullptr}};
    if (row->status == "purged") out["certificate"] = make_certificate(ws, id);
    reply_json(res, 200, out);
  }

  Context& ctx_;
  PredictionService& service_;
  std::string token_;
  ServiceMetrics metrics_;
};

void run_serve(Context& ctx, const ServeFlags& f) {
  const ServeConfig& sc = ctx.config.serve;
  const std::string host = f.host.value_or(sc.host);
  const int64_t port = f.port.value_or(sc.port);
  if (port < 0 || port > 65535) fail(ErrorKind::kUsage, "--port {} is not a port (0..65535)", port);
  const std::string mode = f.mode.value_or(ctx.config.train.mode);
  const fs::path token_file = sc.token_file.empty() ? serve_token_file(ctx.options.workspace) : fs::path(sc.token_file);

  const std::string token = ensure_serve_token(token_file);
  PredictionService service(ctx.options.workspace, ctx.config, mode, ctx.log);
  httplib::Server svr;
  const size_t threads = static_cast<size_t>(sc.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(static_cast<size_t>(sc.max_body_bytes));
  // Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm holds the
  // body until the client's delayed ACK, 40 ms on Linux, on every answer.
  svr.set_tcp_nodelay(true);
  Routes routes(ctx, service, token);
  routes.install(svr);

  const int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, static_cast<int>(port)) ? static_cast<int>(port) : -1);
  if (bound < 0) fail(ErrorKind::kConflict, "cannot listen on {}:{} (in use, or not an address of this machine)", host, port);

  // SIGTERM and SIGINT may reach any thread (LibTorch's pools started before this one), so a
  // process-wide handler writes the signal into a pipe, and one thread reads it and stops the
  // server; the handler does nothing else (it must be async-signal-safe). A signal that comes
  // before listen has started is kept (stop_requested) and stops it as soon as it runs.
  if (::pipe(g_stop_pipe) != 0) fail(ErrorKind::kInternal, "pipe: {}", std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  std::atomic<bool> stop_requested{false}, listen_ended{false};
  std::thread signals([&] {
    char sig = 0;
    while (::read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == kListenEnded) return;
    stop_requested = true;
    ctx.log->info("{}: finishing the requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    while (!svr.is_running() && !listen_ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    svr.stop();
  });
  // Whatever happens from here, the signal thread is woken and joined before it is destroyed.
  struct JoinSignals {
    std::thread& t;
    std::atomic<bool>& ended;
    ~JoinSignals() {
      ended = true;
      const char byte = kListenEnded;
      const ssize_t ignored = ::write(g_stop_pipe[1], &byte, 1);
      (void)ignored;
      if (t.joinable()) t.join();
      ::signal(SIGTERM, SIG_DFL);
      ::signal(SIGINT, SIG_DFL);
    }
  } join_signals{signals, listen_ended};

  const auto view = service.view();
  const nlohmann::json listening = {{"event", "listening"}, {"url", fmt::format("http://{}:{}", host, bound)},
                                    {"host", host}, {"port", bound}, {"mode", mode}, {"view_version", view->version()},
                                    {"serving", view->ensemble.has_value()}, {"token_file", token_file.string()}};
  // Printed at once (the result comes at the end): scripts and tests wait for this line.
  const std::string line = ctx.options.json ? listening.dump() + "\n"
                                            : fmt::format("Serving the {} model of {} on {} (view {}); forget needs the "
                                                          "bearer token in {}\n", mode, ctx.options.workspace.string(),
                                                          listening.at("url").get<std::string>(), view->version(),
                                                          token_file.string());
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);

  const bool clean = stop_requested ? true : svr.listen_after_bind();
  listen_ended = true;
  // listen returned: a stop signal arrived (or the socket failed). Drain the model queue and
  // finish the pending purge.
  const bool purged = service.stop();
  if (!purged) ctx.log->warn("a deletion's purge is not finished; the next writer of the workspace finishes it");
  const ServiceCounters c = service.counters();
  ctx.out.result({{"event", "stopped"}, {"clean", clean}, {"purge_finished", purged}, {"predictions", c.predictions},
                  {"forget_requests", c.forget_requests}, {"deleted_records", c.deleted_records},
                  {"view_version", service.view()->version()}},
                 fmt::format("Stopped: {} predictions, {} forget requests ({} records)", c.predictions,
                             c.forget_requests, c.deleted_records));
}

}  // namespace

void add_serve_command(CLI::App& root, std::vector<Command>& commands) {
  auto* cmd = root.add_subcommand(
      "serve",
      "Serve predictions over HTTP and take deletions while serving: POST /v1/predict, POST "
      "/v1/forget (bearer token), GET /v1/status, /v1/requests/{id}, /metrics (Prometheus), "
      "/healthz (docs/openapi.yaml). A forget is acknowledged once committed and the view has "
      "switched; retraining by another process is picked up at the next request. SIGTERM "
      "finishes the requests in flight, then stops");
  auto f = std::make_shared<ServeFlags>();
  cmd->add_option("--host", f->host, "Address to listen on (serve.host; default 127.0.0.1)");
  cmd->add_option("--port", f->port, "Port; 0 = any free port, printed when listening (serve.port)");
  cmd->add_option("--mode", f->mode, "Which trained model serves: s3t, sisa, full or dp2 (default: train.mode)");
  commands.push_back({cmd, [f](Context& ctx) { run_serve(ctx, *f); }});
}

}  // namespace lethe
