// The progress reporter, driven by a fake clock so that output is deterministic.
#include <catch2/catch.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "src/common/progress.h"
#include "tests/support/run_process.h"

using namespace lethe;

namespace {

// Captures what a Progress writes, through a memory stream.
struct Capture {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* stream = open_memstream(&buf, &size);
  ~Capture() {
    if (stream) std::fclose(stream);
    std::free(buf);
  }
  std::string text() {
    std::fflush(stream);
    return std::string(buf, size);
  }
};

ProgressOptions fake_options(ProgressStyle style, std::FILE* stream, const double* clock) {
  ProgressOptions o;
  o.style = style;
  o.stream = stream;
  o.now_s = [clock] { return *clock; };
  return o;
}

}  // namespace

TEST_CASE("progress: plain lines carry count, rate and ETA at the configured interval", "[progress]") {
  Capture cap;
  double t = 0;
  {
    Progress p("ingest", 1000, fake_options(ProgressStyle::kLines, cap.stream, &t));
    t = 5;
    p.advance(100);  // before the 10 s interval: nothing printed
    CHECK(cap.text().empty());
    t = 10;
    p.advance(100);  // 200 in 10 s: 20/s, 800 left: 40 s
    const std::string first = cap.text();
    CHECK(first == "ingest: 200/1000 (20%), 20/s, ETA 0:40\n");
    t = 16;
    p.advance(800);  // 6 s after the last line: nothing until the end
  }  // the destructor prints the final line
  const auto lines = test::lines_of(cap.text());
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "ingest: 1000/1000 (100%), 62.5/s, done in 0:16");
}

TEST_CASE("progress: JSON events parse and carry the fields scripts need", "[progress]") {
  Capture cap;
  double t = 0;
  Progress p("train", 10, fake_options(ProgressStyle::kJson, cap.stream, &t));
  t = 20;
  p.set_note("loss 0.5");
  p.advance(5);
  p.finish();
  const auto lines = test::lines_of(cap.text());
  REQUIRE(lines.size() == 2);
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j["event"] == "progress");
    CHECK(j["task"] == "train");
    CHECK(j["total"] == 10);
    CHECK(j["note"] == "loss 0.5");
  }
  const auto first = nlohmann::json::parse(lines[0]);
  CHECK(first["done"] == 5);
  CHECK(first["eta_s"].get<double>() == Approx(20.0));
  CHECK(nlohmann::json::parse(lines[1])["final"] == true);
}

TEST_CASE("progress: the terminal bar redraws in place and ends with a newline", "[progress]") {
  Capture cap;
  double t = 0;
  Progress p("stage 1", 4, fake_options(ProgressStyle::kBar, cap.stream, &t));
  t = 1;
  p.advance(2);
  const std::string mid = cap.text();
  CHECK(mid.rfind("\r\033[2K", 0) == 0);
  CHECK_THAT(mid, Catch::Contains(" 50% 2/4"));
  CHECK_THAT(mid, Catch::Contains("ETA 0:01"));
  t = 2;
  p.advance(2);
  p.finish();
  const std::string all = cap.text();
  CHECK(all.back() == '\n');
  CHECK_THAT(all, Catch::Contains("100% 4/4"));
}

TEST_CASE("progress: silent style prints nothing", "[progress]") {
  Capture cap;
  double t = 0;
  {
    Progress p("x", 3, fake_options(ProgressStyle::kSilent, cap.stream, &t));
    t = 100;
    p.advance(3);
  }
  CHECK(cap.text().empty());
}

TEST_CASE("progress: durations and counts are formatted for people", "[progress]") {
  CHECK(format_duration(0) == "0:00");
  CHECK(format_duration(65) == "1:05");
  CHECK(format_duration(3723) == "1:02:03");
  CHECK(format_duration(-1) == "?");
  CHECK(format_count(950) == "950");
  CHECK(format_count(12345) == "12.3k");
  CHECK(format_count(4.56e6) == "4.56M");
}
