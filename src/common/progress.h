// Progress reporting for long loops: a live bar with rate and ETA on a terminal, a plain line
// every few seconds otherwise (logs, CI), JSON events with --json. Output goes to stderr so that
// results on stdout stay clean.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace lethe {

enum class ProgressStyle { kBar, kLines, kJson, kSilent };

// kJson when `json`, else kBar when `stream` is a terminal, else kLines.
ProgressStyle progress_style_for(bool json, std::FILE* stream);

struct ProgressOptions {
  ProgressStyle style = ProgressStyle::kLines;
  std::FILE* stream = stderr;
  double bar_interval_s = 0.1;   // minimum time between bar redraws
  double line_interval_s = 10.0; // minimum time between plain or JSON lines
  std::function<double()> now_s; // monotonic clock in seconds; steady_clock when empty
};

class Progress {
 public:
  // `total` = 0 means unknown (no percentage or ETA).
  Progress(std::string label, uint64_t total, ProgressOptions options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(uint64_t n = 1);
  // Free text shown after the counters, e.g. "loss 0.412".
  void set_note(std::string note);
  // Prints the final state (once); called by the destructor if not before.
  void finish();

  uint64_t done() const { return done_; }

 private:
  void render(bool final);
  double now() const;

  std::string label_;
  uint64_t total_;
  ProgressOptions opt_;
  std::string note_;
  uint64_t done_ = 0;
  double start_s_;
  double last_render_s_;
  bool finished_ = false;
};

// "1:05", "1:02:03": for ETAs and elapsed times.
std::string format_duration(double seconds);
// "950", "12.3k", "4.56M": for rates.
std::string format_count(double value);

}  // namespace lethe
