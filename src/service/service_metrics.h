// The service's Prometheus metrics (text exposition format 0.0.4): HTTP requests by route and
// status, their latency as histograms, and the model side's counters and view. Routes are the
// templates ("/v1/requests/{id}"), never the path a client sent, so no request ID reaches them.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "src/service/prediction_service.h"

namespace lethe {

class ServiceMetrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

  void observe(const std::string& route, int status, double seconds);
  std::string render(const ServiceCounters& counters, const ServedView& view) const;

 private:
  struct Histogram {
    std::array<int64_t, kBuckets.size()> buckets{};  // cumulative counts are summed when rendered
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (route, status) -> count
  std::map<std::string, Histogram> latency_;                 // route -> seconds
};

}  // namespace lethe
