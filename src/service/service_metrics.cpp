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
  metric("lethe_predictions_total", "counter", "Inputs answered.");
  fmt::format_to(w, "lethe_predictions_total {}\n", c.predictions);
  metric("lethe_model_passes_total", "counter", "Model passes (batches of requests).");
  fmt::format_to(w, "lethe_model_passes_total {}\n", c.batches);
  metric("lethe_forget_requests_total", "counter", "Deletion requests committed by this service.");
  fmt::format_to(w, "lethe_forget_requests_total {}\n", c.forget_requests);
  metric("lethe_deleted_records_total", "counter", "Records deleted by this service's requests.");
  fmt::format_to(w, "lethe_deleted_records_total {}\n", c.deleted_records);
  metric("lethe_view_reloads_total", "counter", "Views loaded after the first (deletions, retraining).");
  fmt::format_to(w, "lethe_view_reloads_total {}\n", c.reloads);
  metric("lethe_purge_pending", "gauge", "1 while a committed deletion's bytes wait for their purge.");
  fmt::format_to(w, "lethe_purge_pending {}\n", c.purges_pending);
  metric("lethe_view_version", "gauge", "The ledger entry the serving view was read at.");
  fmt::format_to(w, "lethe_view_version {}\n", view.version);
  metric("lethe_live_components", "gauge", "Trained components in the serving chains.");
  fmt::format_to(w, "lethe_live_components {}\n", view.live_components());
  metric("lethe_live_shards", "gauge", "Shards that serve.");
  fmt::format_to(w, "lethe_live_shards {}\n", view.ensemble ? view.ensemble->view.live.size() : 0);
  return out;
}

}  // namespace lethe
