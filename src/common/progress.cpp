#include "src/common/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lethe {

ProgressStyle progress_style_for(bool json, std::FILE* stream) {
  if (json) return ProgressStyle::kJson;
  return ::isatty(::fileno(stream)) ? ProgressStyle::kBar : ProgressStyle::kLines;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<long long>(std::llround(seconds));
  const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

std::string format_count(double value) {
  if (value >= 1e9) return fmt::format("{:.2f}G", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.2f}M", value / 1e6);
  if (value >= 1e4) return fmt::format("{:.1f}k", value / 1e3);
  if (value >= 100) return fmt::format("{:.0f}", value);
  return fmt::format("{:.3g}", value);
}

Progress::Progress(std::string label, uint64_t total, ProgressOptions options)
    : label_(std::move(label)), total_(total), opt_(std::move(options)) {
  start_s_ = now();
  last_render_s_ = start_s_;
}

Progress::~Progress() {
  // Destructors must not throw; a failed final render is not worth dying for.
  try {
    finish();
  } catch (...) {
  }
}

double Progress::now() const {
  if (opt_.now_s) return opt_.now_s();
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void Progress::advance(uint64_t n) {
  done_ += n;
  const double t = now();
  const double interval =
      opt_.style == ProgressStyle::kBar ? opt_.bar_interval_s : opt_.line_interval_s;
  if (t - last_render_s_ >= interval) {
    last_render_s_ = t;
    render(false);
  }
}

void Progress::set_note(std::string note) { note_ = std::move(note); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  render(true);
}

void Progress::render(bool final) {
  if (opt_.style == ProgressStyle::kSilent) return;
  const double elapsed = now() - start_s_;
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const bool known = total_ > 0;
  const double fraction = known ? std::min(1.0, static_cast<double>(done_) / total_) : 0.0;
  const double eta = known && rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate
                                       : NAN;
  std::string line;
  switch (opt_.style) {
    case ProgressStyle::kJson: {
      nlohmann::json j = {{"event", "progress"}, {"task", label_},        {"done", done_},
                          {"elapsed_s", elapsed}, {"rate_per_s", rate}, {"final", final}};
      if (known) {
        j["total"] = total_;
        if (std::isfinite(eta)) j["eta_s"] = eta;
      }
      if (!note_.empty()) j["note"] = note_;
      line = j.dump() + "\n";
      break;
    }
    case ProgressStyle::kBar: {
      constexpr int kWidth = 28;
      const int filled = static_cast<int>(fraction * kWidth);
      line = "\r\033[2K" + label_ + " ";
      if (known) {
        line += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
        line += fmt::format("{:3.0f}% {}/{}", fraction * 100, done_, total_);
      } else {
        line += fmt::format("{}", done_);
      }
      line += fmt::format(" {}/s", format_count(rate));
      line += final ? " in " + format_duration(elapsed) : " ETA " + format_duration(eta);
      if (!note_.empty()) line += " " + note_;
      if (final) line += "\n";
      break;
    }
    case ProgressStyle::kLines: {
      line = label_ + ": ";
      line += known ? fmt::format("{}/{} ({:.0f}%)", done_, total_, fraction * 100)
                    : fmt::format("{}", done_);
      line += fmt::format(", {}/s", format_count(rate));
      line += final ? ", done in " + format_duration(elapsed) : ", ETA " + format_duration(eta);
      if (!note_.empty()) line += ", " + note_;
      line += "\n";
      break;
    }
    case ProgressStyle::kSilent:
      return;
  }
  std::fputs(line.c_str(), opt_.stream);
  std::fflush(opt_.stream);
}

}  // namespace lethe
