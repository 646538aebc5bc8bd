#include "src/common/log.h"

#include <unistd.h>

#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "src/common/error.h"

namespace lethe {

namespace {

// Writes each log message as one JSON object per line on stderr.
class JsonStderrSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonStderrSink(int rank) : rank_(rank) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    nlohmann::json j = {
        {"event", "log"},
        {"level", spdlog::level::to_string_view(msg.level).data()},
        {"message", std::string(msg.payload.data(), msg.payload.size())},
    };
    if (rank_ >= 0) j["rank"] = rank_;
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  int rank_;
};

}  // namespace

int parse_log_level(const std::string& name, const std::string& where) {
  static const char* const kNames[] = {"trace", "debug", "info", "warn", "error", "off"};
  static const spdlog::level::level_enum kLevels[] = {
      spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
      spdlog::level::warn,  spdlog::level::err,   spdlog::level::off};
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (name == kNames[i]) return kLevels[i];
  }
  fail(ErrorKind::kUsage, "{}: invalid log level '{}': expected one of trace, debug, info, warn, error, off",
       where, name);
}

std::shared_ptr<spdlog::logger> make_logger(int level, bool json, int rank) {
  spdlog::sink_ptr sink;
  if (json) {
    sink = std::make_shared<JsonStderrSink>(rank);
  } else {
    auto color = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
    color->set_pattern(rank >= 0 ? fmt::format("[%H:%M:%S.%e] [rank {}] [%^%l%$] %v", rank)
                                 : std::string("[%H:%M:%S.%e] [%^%l%$] %v"));
    sink = color;
  }
  auto logger = std::make_shared<spdlog::logger>("lethe", sink);
  logger->set_level(static_cast<spdlog::level::level_enum>(level));
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace lethe
