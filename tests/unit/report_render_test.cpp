// The report renderers: nice ticks, compact numbers, well-formed and escaped SVG and HTML,
// degenerate data (empty, single point, all-equal, NaN and infinite values) that must neither
// crash nor leak "nan"/"inf" into the markup, determinism, legends, and stacked and grouped bars.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "src/report/html_report.h"
#include "src/report/svg_chart.h"

using namespace lethe;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_';
}

// Empty when `text` (at `at`) is a known entity reference, else what is wrong.
bool valid_entity(const std::string& doc, size_t at) {
  static const std::vector<std::string> kEntities = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
                                                     "&#39;"};
  for (const std::string& e : kEntities) {
    if (doc.compare(at, e.size(), e) == 0) return true;
  }
  return false;
}

// A tiny well-formedness checker for the markup these renderers write: tags balanced and nested,
// attribute values double-quoted and free of '<', every '&' an entity, no stray '<' or '>' in
// text. `void_tags` (HTML's <meta> ...) need no closing tag; <style> content is skipped as raw
// text. Returns "" when well-formed, else the first problem and where.
std::string markup_error(const std::string& doc, const std::set<std::string>& void_tags = {}) {
  std::vector<std::string> open;
  size_t i = 0;
  auto where = [&](size_t at) { return " at " + std::to_string(at) + ": " + doc.substr(at, 40); };
  while (i < doc.size()) {
    char c = doc[i];
    if (c == '&') {
      if (!valid_entity(doc, i)) return "bad entity" + where(i);
      ++i;
      continue;
    }
    if (c == '>') return "stray >" + where(i);
    if (c != '<') {
      ++i;
      continue;
    }
    if (doc.compare(i, 4, "<!--") == 0) {
      size_t end = doc.find("-->", i);
      if (end == std::string::npos) return "unclosed comment" + where(i);
      i = end + 3;
      continue;
    }
    if (doc.compare(i, 2, "<!") == 0) {
      size_t end = doc.find('>', i);
      if (end == std::string::npos) return "unclosed declaration" + where(i);
      i = end + 1;
      continue;
    }
    bool closing = doc.compare(i, 2, "</") == 0;
    size_t j = i + (closing ? 2 : 1);
    size_t name_start = j;
    while (j < doc.size() && is_name_char(doc[j])) ++j;
    std::string name = doc.substr(name_start, j - name_start);
    if (name.empty()) return "stray <" + where(i);
    if (closing) {
      if (j >= doc.size() || doc[j] != '>') return "bad closing tag" + where(i);
      if (open.empty() || open.back() != name) {
        return "closing </" + name + "> does not match <" + (open.empty() ? "" : open.back()) +
               ">" + where(i);
      }
      open.pop_back();
      i = j + 1;
      continue;
    }
    bool self_closed = false;
    while (true) {
      while (j < doc.size() && std::isspace(static_cast<unsigned char>(doc[j]))) ++j;
      if (j >= doc.size()) return "unterminated tag" + where(i);
      if (doc[j] == '>') {
        ++j;
        break;
      }
      if (doc.compare(j, 2, "/>") == 0) {
        self_closed = true;
        j += 2;
        break;
      }
      size_t attr_start = j;
      while (j < doc.size() && is_name_char(doc[j])) ++j;
      if (j == attr_start) return "bad attribute" + where(j);
      if (j + 1 >= doc.size() || doc[j] != '=' || doc[j + 1] != '"') return "unquoted attribute" + where(j);
      j += 2;
      while (j < doc.size() && doc[j] != '"') {
        if (doc[j] == '<') return "< in attribute" + where(j);
        if (doc[j] == '&' && !valid_entity(doc, j)) return "bad entity in attribute" + where(j);
        ++j;
      }
      if (j >= doc.size()) return "unterminated attribute" + where(attr_start);
      ++j;
    }
    i = j;
    if (self_closed || void_tags.count(name) > 0) continue;
    if (name == "style") {
      size_t end = doc.find("</style>", i);
      if (end == std::string::npos) return "unclosed style" + where(i);
      i = end + 8;
      continue;
    }
    open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return "";
}

const std::set<std::string> kHtmlVoid = {"meta", "br", "hr", "img", "link", "input"};

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Well-formed, one <svg> root with the accessibility and sizing attributes, and no non-finite
// number anywhere.
void check_svg(const std::string& svg) {
  INFO(svg);
  CHECK(markup_error(svg) == "");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.size() >= 7);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
  CHECK(count(svg, "<svg") == count(svg, "</svg>"));
  CHECK(svg.find("role=\"img\"") != std::string::npos);
  CHECK(svg.find("viewBox=\"0 0 ") != std::string::npos);
  CHECK(svg.find(" width=\"") != std::string::npos);
  CHECK(svg.find(" height=\"") != std::string::npos);
  CHECK(svg.find("<title>") != std::string::npos);
  std::string l = lower(svg);
  CHECK(l.find("nan") == std::string::npos);
  CHECK(l.find("inf") == std::string::npos);
}

// The value of attribute `name` in the start tag that begins at `tag_start`; "" when absent.
std::string attribute(const std::string& doc, size_t tag_start, const std::string& name) {
  size_t end = doc.find('>', tag_start);
  std::string key = " " + name + "=\"";
  size_t at = doc.find(key, tag_start);
  if (at == std::string::npos || at > end) return "";
  at += key.size();
  return doc.substr(at, doc.find('"', at) - at);
}

// Every number in a coordinate attribute, parsed: all must be finite and of sane size.
void check_coordinates(const std::string& svg) {
  static const std::set<std::string> kNames = {"x",  "y",  "x1", "x2",    "y1",
                                               "y2", "cx", "cy", "width", "height"};
  for (size_t at = svg.find("=\""); at != std::string::npos; at = svg.find("=\"", at + 2)) {
    size_t name_start = svg.rfind(' ', at) + 1;
    if (kNames.count(svg.substr(name_start, at - name_start)) == 0) continue;
    std::string value = svg.substr(at + 2, svg.find('"', at + 2) - at - 2);
    INFO(svg.substr(name_start, at - name_start) << "=" << value);
    size_t used = 0;
    double v = std::stod(value, &used);
    CHECK(used == value.size());
    CHECK(std::isfinite(v));
    CHECK(std::abs(v) <= 1e5 + 1);
  }
}

struct Rect {
  double x, y, width, height;
  std::string fill;
};

// The bars of a bar chart: the <rect>s that carry a <title> tooltip.
std::vector<Rect> bars(const std::string& svg) {
  std::vector<Rect> out;
  for (size_t at = svg.find("<rect "); at != std::string::npos; at = svg.find("<rect ", at + 1)) {
    size_t end = svg.find('>', at);
    if (svg.compare(end, 8, "><title>") != 0) continue;
    out.push_back({std::stod(attribute(svg, at, "x")), std::stod(attribute(svg, at, "y")),
                   std::stod(attribute(svg, at, "width")), std::stod(attribute(svg, at, "height")),
                   attribute(svg, at, "fill")});
  }
  return out;
}

// The d of every <path d="..."/> with no other attribute: the series lines.
std::vector<std::string> series_paths(const std::string& svg) {
  std::vector<std::string> out;
  const std::string key = "<path d=\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    size_t value_end = svg.find('"', at + key.size());
    if (svg.compare(value_end, 4, "\"/>\n") != 0) continue;
    out.push_back(svg.substr(at + key.size(), value_end - at - key.size()));
  }
  return out;
}

LineChart three_series() {
  LineChart c;
  c.title = "Accuracy after deletions";
  c.x_label = "deletions";
  c.y_label = "accuracy";
  c.series.push_back({"alpha", {0, 1, 2, 3, 4}, {0.9, 0.85, 0.8, 0.78, 0.7}, false});
  c.series.push_back({"beta", {0, 1, 2, 3, 4}, {0.92, kNaN, 0.81, 0.8, kNaN}, false});
  c.series.push_back({"gamma", {0, 1, 2, 3, 4}, {0.5, 0.55, 0.6, 0.65, 0.7}, true});
  return c;
}

BarChart three_groups(bool stacked) {
  BarChart b;
  b.title = "Retraining cost";
  b.y_label = "GPU hours";
  b.series_names = {"train", "retrain", "eval"};
  b.groups = {{"SISA", {3, 4, 5}}, {"S3T", {2, 1, 0.5}}, {"full", {10, 0, 1}}};
  b.stacked = stacked;
  return b;
}

bool is_one_two_five(double step) {
  double exponent = std::floor(std::log10(step));
  double mantissa = step / std::pow(10.0, exponent);
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (std::abs(mantissa - m) < 1e-6) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("report: nice ticks for plain ranges", "[report]") {
  CHECK_THAT(nice_ticks(0, 1, 5), Catch::Matchers::Approx(std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  CHECK_THAT(nice_ticks(0, 100, 5), Catch::Matchers::Approx(std::vector<double>{0, 20, 40, 60, 80, 100}));
  CHECK_THAT(nice_ticks(3, 97, 5), Catch::Matchers::Approx(std::vector<double>{0, 20, 40, 60, 80, 100}));
  CHECK_THAT(nice_ticks(-1, 1, 5), Catch::Matchers::Approx(std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  CHECK_THAT(nice_ticks(0, 7, 5), Catch::Matchers::Approx(std::vector<double>{0, 2, 4, 6, 8}));
  CHECK_THAT(nice_ticks(97, 3, 5), Catch::Matchers::Approx(nice_ticks(3, 97, 5)));  // swapped bounds
  // Exactly 0, not 1e-17, where a tick crosses zero.
  std::vector<double> t = nice_ticks(-0.3, 0.3, 6);
  CHECK(std::count(t.begin(), t.end(), 0.0) == 1);
}

TEST_CASE("report: nice ticks cover the range with 4 to 8 evenly spaced 1-2-5 steps", "[report]") {
  const std::vector<std::pair<double, double>> ranges = {
      {0, 1},       {0, 0.001},    {1e-7, 3e-7}, {-5, 37},   {1000, 1002.5}, {0, 12345},
      {-3e6, 2e6},  {0.31, 0.39},  {99, 101},    {1e12, 4e12}, {-1e-3, -2e-4}, {7, 7.0001}};
  for (const auto& [lo, hi] : ranges) {
    for (int target : {3, 4, 5, 6, 8, 12}) {
      std::vector<double> t = nice_ticks(lo, hi, target);
      INFO("[" << lo << ", " << hi << "] target " << target);
      REQUIRE(t.size() >= 4);
      CHECK(t.size() <= 8);
      double step = t[1] - t[0];
      CHECK(step > 0);
      CHECK(is_one_two_five(step));
      for (size_t i = 1; i < t.size(); ++i) CHECK(t[i] - t[i - 1] == Approx(step));
      CHECK(t.front() <= lo + step * 1e-6);
      CHECK(t.back() >= hi - step * 1e-6);
      // Not wastefully wide: less than a step of slack at each end.
      CHECK(t.front() > lo - step);
      CHECK(t.back() < hi + step);
    }
  }
}

TEST_CASE("report: nice ticks for degenerate ranges stay finite", "[report]") {
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{
           {5, 5}, {0, 0}, {-2, -2}, {kNaN, 1}, {0, kInf}, {-kInf, kInf}, {kNaN, kNaN},
           {-1.7e308, 1.7e308}, {1e300, 1e300}, {1.7e308, 1.7e308}, {5e-324, 5e-324}}) {
    INFO("[" << lo << ", " << hi << "]");
    std::vector<double> t = nice_ticks(lo, hi, 5);
    REQUIRE(t.size() >= 2);
    for (double v : t) CHECK(std::isfinite(v));
    CHECK(t.front() < t.back());
  }
  std::vector<double> t = nice_ticks(5, 5, 5);
  CHECK(t.front() <= 5);
  CHECK(t.back() >= 5);
  t = nice_ticks(kNaN, 1, 5);
  CHECK(t.front() == 0);
  CHECK(t.back() == Approx(1));
}

TEST_CASE("report: compact number formatting", "[report]") {
  CHECK(compact_number(0) == "0");
  CHECK(compact_number(-0.0) == "0");
  CHECK(compact_number(0.5) == "0.5");
  CHECK(compact_number(7) == "7");
  CHECK(compact_number(12) == "12");
  CHECK(compact_number(100) == "100");
  CHECK(compact_number(0.125) == "0.125");
  CHECK(compact_number(1.0 / 3) == "0.333");
  CHECK(compact_number(0.001) == "0.001");
  CHECK(compact_number(1200) == "1.2k");
  CHECK(compact_number(12345) == "12.3k");
  CHECK(compact_number(123456) == "123k");
  CHECK(compact_number(999.9) == "1k");
  CHECK(compact_number(999999) == "1M");
  CHECK(compact_number(3.4e6) == "3.4M");
  CHECK(compact_number(-25000) == "-25k");
  CHECK(compact_number(1e9) == "1B");
  CHECK(compact_number(2.5e12) == "2.5T");
  CHECK(compact_number(1.5e-5) == "1.5e-05");
  CHECK(compact_number(2e15) == "2e+15");
  CHECK(compact_number(kNaN) == "n/a");
  CHECK(compact_number(kInf) == "\xE2\x88\x9E");
  CHECK(compact_number(-kInf) == "-\xE2\x88\x9E");
}

TEST_CASE("report: line chart is well-formed with title, axes, legend and palette", "[report]") {
  std::string svg = render_line_chart(three_series());
  check_svg(svg);
  check_coordinates(svg);
  CHECK(svg.find("<title>Accuracy after deletions</title>") != std::string::npos);
  CHECK(svg.find(">deletions</text>") != std::string::npos);
  CHECK(svg.find(">accuracy</text>") != std::string::npos);
  for (const char* name : {"alpha", "beta", "gamma"}) {
    CHECK(svg.find(std::string(">") + name + "</text>") != std::string::npos);
  }
  // Three distinct palette colours, the dashed series dashed (in the plot and the legend).
  CHECK(svg.find("stroke=\"#0072B2\"") != std::string::npos);
  CHECK(svg.find("stroke=\"#E69F00\"") != std::string::npos);
  CHECK(svg.find("stroke=\"#009E73\"") != std::string::npos);
  CHECK(count(svg, "stroke-dasharray=\"6 4\"") == 2);
  // y ticks on nice values with compact labels.
  CHECK(svg.find(">0.8</text>") != std::string::npos);
}

TEST_CASE("report: a NaN breaks a line and an isolated point gets a marker", "[report]") {
  LineChart c;
  c.series.push_back({"s", {0, 1, 2, 3, 4, 5, 6}, {1, 2, kNaN, 3, 4, kInf, 5}, false});
  std::string svg = render_line_chart(c);
  check_svg(svg);
  std::vector<std::string> paths = series_paths(svg);
  REQUIRE(paths.size() == 1);
  const std::string& d = paths[0];
  CHECK(count(d, "M") == 2);  // {0,1} and {3,4}; the point at 6 stands alone
  CHECK(count(d, "L") == 2);
  CHECK(count(svg, "r=\"3.5\"") == 1);  // the isolated point's larger marker
}

TEST_CASE("report: x defaults to indices and mismatched lengths are cut", "[report]") {
  LineChart a;
  a.series.push_back({"s", {}, {1, 2, 3}, false});
  LineChart b;
  b.series.push_back({"s", {0, 1, 2, 3, 4}, {1, 2, 3}, false});
  CHECK(render_line_chart(a) == render_line_chart(b));
}

TEST_CASE("report: degenerate line charts render without nan or inf", "[report]") {
  std::vector<LineChart> charts;
  charts.emplace_back();  // no series at all
  {
    LineChart c;
    c.series.push_back({"empty", {}, {}, false});
    c.series.push_back({"all missing", {0, 1}, {kNaN, kNaN}, true});
    charts.push_back(c);
  }
  {
    LineChart c;
    c.series.push_back({"one point", {3}, {7}, false});
    charts.push_back(c);
  }
  {
    LineChart c;
    c.series.push_back({"flat", {0, 1, 2}, {4, 4, 4}, false});
    c.series.push_back({"flat zero", {0, 1, 2}, {0, 0, 0}, false});
    charts.push_back(c);
  }
  {
    LineChart c;
    c.series.push_back({"wild", {kNaN, 1, kInf, 3, 4}, {1, -kInf, 2, kNaN, 1e300}, false});
    c.series.push_back({"huge", {0, 1}, {-1.7e308, 1.7e308}, false});
    charts.push_back(c);
  }
  {
    LineChart c;  // fixed bounds: reversed, equal, non-finite, and data outside them
    c.series.push_back({"clipped", {0, 1, 2}, {-5, 0.5, 5}, false});
    c.y_min = 1;
    c.y_max = 0;
    charts.push_back(c);
    c.y_min = 0.5;
    c.y_max = 0.5;
    charts.push_back(c);
    c.y_min = kNaN;
    c.y_max = kInf;
    charts.push_back(c);
    c.y_min = std::nullopt;
    c.y_max = -100;
    charts.push_back(c);
  }
  {
    LineChart c;  // absurd sizes are clamped
    c.title = std::string(300, 'T');
    c.series.push_back({"s", {0, 1}, {0, 1}, false});
    c.width = 0;
    c.height = -5;
    charts.push_back(c);
    c.width = 1 << 30;
    c.height = 1 << 30;
    charts.push_back(c);
  }
  for (size_t i = 0; i < charts.size(); ++i) {
    INFO("chart " << i);
    std::string svg = render_line_chart(charts[i]);
    check_svg(svg);
    check_coordinates(svg);
  }
  CHECK(render_line_chart(charts[0]).find(">No data</text>") != std::string::npos);
}

TEST_CASE("report: fixed y bounds are the axis ends", "[report]") {
  LineChart c;
  c.series.push_back({"s", {10, 15, 20}, {0.31, 0.35, 0.38}, false});  // x labels 10, 12, ...
  c.y_min = 0;
  c.y_max = 1;
  std::string svg = render_line_chart(c);
  check_svg(svg);
  CHECK(svg.find(">0</text>") != std::string::npos);
  CHECK(svg.find(">1</text>") != std::string::npos);
  CHECK(svg.find(">1.2</text>") == std::string::npos);
}

TEST_CASE("report: many series cycle the palette with a dash pattern and keep every name", "[report]") {
  LineChart c;
  for (int i = 0; i < 11; ++i) {
    c.series.push_back({"series number " + std::to_string(i), {0, 1}, {0.0 + i, 1.0 + i}, false});
  }
  std::string svg = render_line_chart(c);
  check_svg(svg);
  for (int i = 0; i < 11; ++i) {
    CHECK(svg.find(">series number " + std::to_string(i) + "</text>") != std::string::npos);
  }
  CHECK(svg.find("stroke-dasharray=\"2 3\"") != std::string::npos);
}

TEST_CASE("report: text is escaped in charts and never appears raw", "[report]") {
  const std::string nasty = "a<b&\"c\"";
  const std::string escaped = "a&lt;b&amp;&quot;c&quot;";
  LineChart c;
  c.title = nasty + " 'q'";
  c.x_label = nasty;
  c.y_label = nasty;
  c.series.push_back({nasty, {0, 1}, {1, 2}, false});
  c.series.push_back({"x\x01y", {0, 1}, {2, 1}, false});  // a control character XML forbids
  std::string svg = render_line_chart(c);
  check_svg(svg);
  CHECK(svg.find(nasty) == std::string::npos);
  CHECK(svg.find(escaped) != std::string::npos);
  CHECK(svg.find("&#39;q&#39;") != std::string::npos);
  CHECK(svg.find('\x01') == std::string::npos);

  BarChart b;
  b.title = nasty;
  b.y_label = nasty;
  b.series_names = {nasty};
  b.groups = {{nasty, {1}}, {"<g>", {2}}};
  std::string bar_svg = render_bar_chart(b);
  check_svg(bar_svg);
  CHECK(bar_svg.find(nasty) == std::string::npos);
  CHECK(bar_svg.find(escaped) != std::string::npos);
  CHECK(bar_svg.find("&lt;g&gt;") != std::string::npos);
}

TEST_CASE("report: rendering is deterministic", "[report]") {
  CHECK(render_line_chart(three_series()) == render_line_chart(three_series()));
  CHECK(render_bar_chart(three_groups(true)) == render_bar_chart(three_groups(true)));
  CHECK(render_bar_chart(three_groups(false)) == render_bar_chart(three_groups(false)));
  CHECK(render_line_chart(three_series()) != render_line_chart(LineChart{}));
}

TEST_CASE("report: grouped bars stand side by side on one baseline", "[report]") {
  std::string svg = render_bar_chart(three_groups(false));
  check_svg(svg);
  check_coordinates(svg);
  for (const char* name : {"train", "retrain", "eval", "SISA", "S3T", "full", "GPU hours"}) {
    CHECK(svg.find(std::string(">") + name + "</text>") != std::string::npos);
  }
  std::vector<Rect> r = bars(svg);
  REQUIRE(r.size() == 9);
  std::set<std::string> fills;
  for (size_t i = 0; i < r.size(); ++i) {
    fills.insert(r[i].fill);
    CHECK(r[i].y + r[i].height == Approx(r[0].y + r[0].height).margin(0.02));  // baseline
    if (i % 3 > 0) CHECK(r[i].x > r[i - 1].x + r[i - 1].width - 0.02);  // no overlap in a group
  }
  CHECK(fills.size() == 3);
  // Taller value, taller bar: 5 > 4 > 3 in the first group.
  CHECK(r[2].height > r[1].height);
  CHECK(r[1].height > r[0].height);
}

TEST_CASE("report: stacked bars pile up in one column per group", "[report]") {
  std::string svg = render_bar_chart(three_groups(true));
  check_svg(svg);
  check_coordinates(svg);
  std::vector<Rect> r = bars(svg);
  REQUIRE(r.size() == 9);
  for (size_t g = 0; g < 3; ++g) {
    for (size_t s = 1; s < 3; ++s) {
      const Rect& below = r[g * 3 + s - 1];
      const Rect& above = r[g * 3 + s];
      CHECK(above.x == Approx(below.x));
      CHECK(above.width == Approx(below.width));
      CHECK(above.y + above.height == Approx(below.y).margin(0.02));  // touching, in order
    }
  }
  // Same totals, same heights: SISA 3+4+5 = 12 and full 10+0+1 = 11 (the 0 is a 0-height bar).
  double sisa = r[0].height + r[1].height + r[2].height;
  double full = r[6].height + r[7].height + r[8].height;
  CHECK(sisa / full == Approx(12.0 / 11).epsilon(0.01));
  // The axis reaches the stacked total, which the grouped chart does not need.
  CHECK(svg.find(">12</text>") != std::string::npos);
  CHECK(render_bar_chart(three_groups(false)).find(">12</text>") == std::string::npos);
}

TEST_CASE("report: stacked negative values stack downward from zero", "[report]") {
  BarChart b;
  b.series_names = {"up", "down", "down too"};
  b.groups = {{"g", {2, -1, -3}}};
  b.stacked = true;
  std::string svg = render_bar_chart(b);
  check_svg(svg);
  std::vector<Rect> r = bars(svg);
  REQUIRE(r.size() == 3);
  CHECK(r[0].y + r[0].height == Approx(r[1].y).margin(0.02));  // zero line between them
  CHECK(r[1].y + r[1].height == Approx(r[2].y).margin(0.02));
}

TEST_CASE("report: degenerate bar charts render without nan or inf", "[report]") {
  std::vector<BarChart> charts;
  charts.emplace_back();
  {
    BarChart b;
    b.series_names = {"a", "b"};
    charts.push_back(b);  // names, no groups
    b.groups = {{"empty", {}}, {"missing", {kNaN, kInf}}};
    charts.push_back(b);  // no finite value
    b.groups = {{"zeros", {0, 0}}, {"more", {0}}};
    charts.push_back(b);
    b.groups = {{"extra values", {1, 2, 3, 4}}, {"negative", {-1, -2}}};
    charts.push_back(b);
    b.stacked = true;
    b.groups = {{"overflow", {1.7e308, 1.7e308}}, {"fine", {1}}};
    charts.push_back(b);
  }
  {
    BarChart b;  // many groups with long labels: rotated and thinned
    b.series_names = {"only"};
    for (int i = 0; i < 120; ++i) {
      b.groups.push_back({"a rather long group label " + std::to_string(i), {1.0 * i}});
    }
    charts.push_back(b);
    b.width = 1;
    b.height = 1;
    charts.push_back(b);
  }
  for (size_t i = 0; i < charts.size(); ++i) {
    INFO("chart " << i);
    std::string svg = render_bar_chart(charts[i]);
    check_svg(svg);
    check_coordinates(svg);
  }
  CHECK(render_bar_chart(charts[2]).find(">No data</text>") != std::string::npos);
  // Series past the names get default names in the legend.
  CHECK(render_bar_chart(charts[4]).find(">Series 4</text>") != std::string::npos);
}

TEST_CASE("report: html escaping and tables", "[report]") {
  CHECK(html_escape("a<b&\"c\"'d'>") == "a&lt;b&amp;&quot;c&quot;&#39;d&#39;&gt;");
  CHECK(html_escape("plain ascii, ünïcode") == "plain ascii, ünïcode");
  CHECK(html_escape("tab\tnew\nline\x07") == "tab\tnew\nline");

  std::string t = html_table({"name", "loss", "note"},
                             {{"a<b", "0.25", "run 3"}, {"c", "-1,024", ""}, {"ragged"}});
  CHECK(markup_error(t) == "");
  CHECK(t.find("a<b") == std::string::npos);
  CHECK(t.find("<td>a&lt;b</td>") != std::string::npos);
  CHECK(t.find("<td class=\"num\">0.25</td>") != std::string::npos);
  CHECK(t.find("<td class=\"num\">-1,024</td>") != std::string::npos);
  CHECK(t.find("<td>run 3</td>") != std::string::npos);
  CHECK(t.find("<th class=\"num\">loss</th>") != std::string::npos);
  CHECK(t.find("<th>name</th>") != std::string::npos);
  CHECK(t.find("<th>note</th>") != std::string::npos);
  CHECK(count(t, "<tr>") == 4);

  for (const char* numeric : {"12", "+3", "-0.5", "3.4M", "98.2%", "1.5e-05", "12x", "1,024"}) {
    CHECK(html_table({}, {{numeric}}).find("class=\"num\"") != std::string::npos);
  }
  for (const char* text : {"v1.2", "1.2.3", "2024-05-01", "-", "12 s", "e5", ",5", "abc"}) {
    INFO(text);
    CHECK(html_table({}, {{text}}).find("class=\"num\"") == std::string::npos);
  }
  CHECK(html_table({}, {}).find("<thead>") == std::string::npos);
}

TEST_CASE("report: the page is a self-contained, well-formed HTML document", "[report]") {
  ReportPage page;
  page.title = "Deletion <report> & \"summary\"";
  page.subtitle = "workspace 'demo'";
  page.facts = {{"Shards", "4"}, {"Slices", "8"}, {"Model", "tiny<lm>"}};
  ReportSection s;
  s.heading = "Accuracy & cost";
  s.intro_html = "<p>How accuracy moves as deletions arrive.</p>";
  s.figures_svg = {render_line_chart(three_series()), render_bar_chart(three_groups(true))};
  s.table_html = html_table({"k", "acc"}, {{"0", "0.9"}, {"1", "0.85"}});
  s.note_html = "<p>Note <code>x</code>.</p>";
  page.sections.push_back(s);
  ReportSection bare;
  bare.heading = "Bare";
  page.sections.push_back(bare);
  page.footer = "Generated by lethe <test>";

  std::string html = render_report(page);
  INFO(html);
  CHECK(markup_error(html, kHtmlVoid) == "");
  CHECK(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0) == 0);
  CHECK(html.find("<meta charset=\"utf-8\">") != std::string::npos);
  CHECK(html.find("<title>Deletion &lt;report&gt; &amp; &quot;summary&quot;</title>") !=
        std::string::npos);
  CHECK(html.find("<report>") == std::string::npos);
  CHECK(html.find("tiny&lt;lm&gt;") != std::string::npos);
  CHECK(html.find("workspace &#39;demo&#39;") != std::string::npos);
  CHECK(html.find("<footer>Generated by lethe &lt;test&gt;</footer>") != std::string::npos);
  CHECK(html.find("<h2>Accuracy &amp; cost</h2>") != std::string::npos);
  CHECK(count(html, "<figure>") == 2);
  CHECK(count(html, "<section>") == 2);
  CHECK(count(html, "<div><dt>") == 3);
  CHECK(count(html, "class=\"table-wrap\"") == 1);  // the bare section has no empty boxes
  CHECK(count(html, "class=\"note\"") == 1);
  // Nothing external: no scripts, stylesheets, fonts, images or fetches. The only URL is the SVG
  // namespace, which is a name, not a resource.
  std::string l = lower(html);
  for (const char* banned : {"<script", "<link", "<img", "<iframe", "src=", "href=", "url(",
                             "@import", "@font-face", "https:"}) {
    INFO(banned);
    CHECK(l.find(banned) == std::string::npos);
  }
  CHECK(count(l, "http:") == count(l, "xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(html == render_report(page));
}

TEST_CASE("report: an empty page still renders a valid document", "[report]") {
  std::string html = render_report(ReportPage{});
  CHECK(markup_error(html, kHtmlVoid) == "");
  CHECK(html.find("<title>Lethe report</title>") != std::string::npos);
  CHECK(html.find("<dl") == std::string::npos);
  CHECK(html.find("<footer>") == std::string::npos);
}
