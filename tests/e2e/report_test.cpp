// `lethe report`: the page is written from a real workspace (S3T beside SISA and full, after
// deletions and a retrain), parses, and renders in headless Chromium; the test keeps a
// screenshot (build/tests/report-screenshot.png).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "src/index/lineage_index.h"
#include "src/common/fs.h"
#include "src/common/subprocess.h"
#include "src/workspace/workspace.h"
#include "tests/support/lethe_cli.h"
#include "tests/support/run_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trained_workspace.h"

using namespace lethe;
using test::lethe_json;

namespace {

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

uint32_t big_endian(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

}  // namespace

TEST_CASE("report: charts of accuracy, cost and prefixes render in headless Chromium", "[report][trained]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  test::copy_trained_workspace(ws);  // Fashion-MNIST, s3t trained (4 shards x 2 slices)
  for (const char* mode : {"sisa", "full"}) lethe_json(ws, {"train", "--mode", mode});
  // Deletions, a retrain of each mode, a replay of further deletions (saved for the report),
  // then one more deletion left pending.
  std::vector<std::string> ids;
  {
    Workspace w = open_workspace(ws);
    Stmt q = w.db.prepare("SELECT r.id FROM records r JOIN slices s USING (slice_id) WHERE s.kind = 'train' AND r.rid % 97 = 0 LIMIT 3");
    while (q.step()) ids.push_back(q.text(0));
  }
  REQUIRE(ids.size() == 3);
  lethe_json(ws, {"forget", "--id", ids[0], "--id", ids[1]});
  for (const char* mode : {"s3t", "sisa", "full"}) lethe_json(ws, {"retrain", "--mode", mode});
  lethe_json(ws, {"simulate", "--with-eval"});
  lethe_json(ws, {"forget", "--id", ids[2]});

  const auto r = lethe_json(ws, {"report"});
  const fs::path page = r["report"].get<std::string>();
  REQUIRE(fs::exists(page));
  CHECK(fs::exists(ws / "reports" / "deletion-replay.json"));
  const std::string html = read_file(page);
  CHECK(count(html, "<svg") >= 6);  // accuracy, cost, two prefix charts, simulation, runs
  CHECK(count(html, "<svg") == count(html, "</svg>"));
  for (const char* text : {"Test accuracy vs deletions", "Records one retraining would process",
                           "Live prefix per sequence", "Shards still serving", "S3T", "SISA",
                           "full (accuracy before deletions; retraining not run)"}) {
    CHECK_THAT(html, Catch::Contains(text));
  }
  // The replay retrains nothing: the full line must not claim a retraining it never measured.
  CHECK_THAT(html, !Catch::Contains("retrained after every deletion"));
  CHECK(html.find("nan") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);

  // Headless Chromium parses it (the DOM holds every chart) and paints it.
  const auto chromium = find_in_path("chromium");
  REQUIRE(chromium);  // scripts/install-deps.sh installs it
  const std::vector<std::string> common = {chromium->string(), "--headless", "--no-sandbox", "--disable-gpu",
                                           "--hide-scrollbars", "--user-data-dir=" + (dir / "chromium").string()};
  auto dump = common;
  dump.insert(dump.end(), {"--dump-dom", "file://" + page.string()});
  const auto dom = test::run_process(dump);
  INFO(dom.err);
  REQUIRE(dom.exit_code == 0);
  CHECK(count(dom.out, "<svg") == count(html, "<svg"));
  const fs::path png = dir / "report.png";
  auto shot = common;
  shot.insert(shot.end(), {"--screenshot=" + png.string(), "--window-size=1100,3600", "file://" + page.string()});
  const auto painted = test::run_process(shot);
  INFO(painted.err);
  REQUIRE(painted.exit_code == 0);
  const std::string bytes = read_file(png);
  REQUIRE(bytes.size() > 50000);  // a blank page compresses to a few kB
  CHECK(bytes.substr(1, 3) == "PNG");
  CHECK(big_endian(bytes, 16) == 1100);  // IHDR width and height
  CHECK(big_endian(bytes, 20) == 3600);
  fs::copy_file(png, fs::current_path() / "report-screenshot.png", fs::copy_options::overwrite_existing);

  // Without a saved replay the report runs one (of the models that serve now).
  fs::remove(ws / "reports" / "deletion-replay.json");
  lethe_json(ws, {"report"});
  const auto replay = nlohmann::json::parse(read_file(ws / "reports" / "deletion-replay.json"));
  CHECK(replay["curves"].size() == 2);  // s3t and sisa; the full model waits for its retrain
}

TEST_CASE("report: a corrupt saved replay exits 4 naming the file", "[report]") {
  test::TempDir dir;
  const fs::path ws = dir / "ws";
  lethe_json(ws, {"init"});
  lethe_json(ws, {"ingest", "--dataset", "fashion-mnist", "--limit", "600"});
  const fs::path replay = ws / "reports" / "deletion-replay.json";
  fs::create_directories(replay.parent_path());
  // An empty replay (no points) and one cut short.
  for (const std::string& text : {std::string(R"({"distribution": "uniform", "requests": [], "records": [],)"
                                              R"( "test_records": 0, "curves": []})"),
                                  std::string(R"({"distribution": "unif)")}) {
    INFO(text);
    write_file_atomic(replay, text);
    const auto r = test::lethe_in(ws, {"report", "--no-replay"});
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.err, Catch::Contains(replay.string()));
    CHECK_FALSE(fs::exists(ws / "reports" / "index.html"));
  }
}
