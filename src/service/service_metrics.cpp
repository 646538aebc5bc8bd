#include "src/service/service_metrics.h"

#include <fmt/format.h>

#include <iterator>

namespace lethe {

void ServiceMetrics::observe(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> g(mutex_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    if (seconds <= kBuckets[b]) {
      ++h.buckets[b];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

std::string ServiceMetrics::render(const ServiceCounters& c, const ServedView& view) const {
  std::string out;
  auto w = std::back_inserter(out);
  auto metric = [&](const char* name, const char* type, const char* help) {
    fmt::format_to(w, "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  {
    std::lock_guard<std::mutex> g(mutex_);
    metric("lethe_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
    for (const auto& [key, n] : requests_) {
      fmt::format_to(w, "lethe_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", key.first, key.second, n);
    }
    metric("lethe_http_request_duration_seconds", "histogram", "Time from a request's arrival to its answer.");
    for (const auto& [route, h] : latency_) {
      int64_t cumulative = 0;
      for (size_t b = 0; b < kBuckets.size(); ++b) {
        cumulative += h.buckets[b];
        fmt::format_to(w, "lethe_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route,
                       kBuckets[b], cumulative);
      }
      fmt::format_to(w, "lethe_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, h.count);
      fmt::format_to(w, "lethe_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
      fmt::format_to(w, "lethe_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
    }
  }
  // One unlabelled sample each: its HELP, TYPE and value.
  auto scalar = [&](const char* name, const char* type, const char* help, auto value) {
    metric(name, type, help);
    fmt::format_to(w, "{} {}\n", name, value);
  };
  scalar("lethe_predictions_total", "counter", "Inputs answered.", c.predictions);
  scalar("lethe_model_passes_total", "counter", "Model passes (batches of requests).", c.batches);
  scalar("lethe_forget_requests_total", "counter", "Deletion requests committed by this service.", c.forget_requests);
  scalar("lethe_deleted_records_total", "counter", "Records deleted by this service's requests.", c.deleted_records);
  scalar("lethe_view_reloads_total", "counter", "Views loaded after the first (deletions, retraining).", c.reloads);
  scalar("lethe_purge_pending", "gauge", "1 while a committed deletion's bytes wait for their purge.", c.purges_pending);
  scalar("lethe_view_version", "gauge", "The ledger entry the serving view was read at.", view.version());
  scalar("lethe_live_components", "gauge", "Trained components in the serving chains.", view.live_components());
  scalar("lethe_live_shards", "gauge", "Shards that serve.", view.ensemble ? view.ensemble->view.live.size() : 0);
  return out;
}

}  // namespace lethe
