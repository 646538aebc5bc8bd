#include "src/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace lethe {

namespace {

// Okabe-Ito, reordered so that the first colours are the most distinct on white (the yellow,
// faint on white, comes late).
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                    "#56B4E9", "#CC79A7", "#F0E442", "#000000"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

constexpr const char* kFont = "system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif";
constexpr const char* kTextColour = "#1f2937";
constexpr const char* kMutedColour = "#4b5563";
constexpr const char* kGridColour = "#e5e7eb";
constexpr const char* kAxisColour = "#6b7280";

constexpr double kTitleSize = 15;
constexpr double kLabelSize = 12;
constexpr double kTickSize = 11;
constexpr double kLegendSize = 12;
// Average advance of a sans-serif glyph in ems; a little generous, so estimates err wide.
constexpr double kGlyphWidth = 0.6;
constexpr double kPad = 12;
constexpr double kLegendRow = 20;
// Keeps coordinates of far-off points short and finite; only affects points outside the plot.
constexpr double kCoordinateLimit = 1e5;
// Points per series up to which every point gets a marker.
constexpr size_t kMaxMarkedPoints = 40;
constexpr double kSin35 = 0.573576436;
constexpr double kCos35 = 0.819152044;

// "1.50" -> "1.5", "2.00" -> "2", "120" -> "120".
std::string trim_fraction(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// A coordinate or length: two decimals, trailing zeros dropped, never "nan", "inf" or "-0".
std::string num(double v) {
  if (!std::isfinite(v) || std::abs(v) < 0.005) return "0";
  return trim_fraction(fmt::format("{:.2f}", v));
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

double text_width(std::string_view s, double size) {
  return static_cast<double>(code_points(s)) * size * kGlyphWidth;
}

// `s` cut at a code point boundary and ended with an ellipsis so that it fits `max_width`.
std::string fit_text(const std::string& s, double max_width, double size) {
  if (text_width(s, size) <= max_width) return s;
  double glyph = size * kGlyphWidth;
  double room = max_width / glyph - 1;  // one glyph for the ellipsis
  size_t keep = room > 0 ? static_cast<size_t>(room) : 0;
  size_t end = 0;
  size_t seen = 0;
  while (end < s.size()) {
    if ((static_cast<unsigned char>(s[end]) & 0xC0) != 0x80) {
      if (seen == keep) break;
      ++seen;
    }
    ++end;
  }
  return s.substr(0, end) + "\xE2\x80\xA6";
}

std::string colour(size_t i) { return kPalette[i % kPaletteSize]; }

// Dash pattern of series i: dashed series are dashed, and past the palette's length the cycle
// gets a dotted pattern so that repeated colours stay distinguishable. Empty = solid.
std::string dash(size_t i, bool dashed) {
  bool second_cycle = i >= kPaletteSize;
  if (dashed && second_cycle) return "8 3 2 3";
  if (dashed) return "6 4";
  if (second_cycle) return "2 3";
  return "";
}

std::string text(double x, double y, std::string_view s, double size, const char* anchor,
                 const char* fill, std::string_view extra = {}) {
  return fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\" fill=\"{}\"{}>{}</text>\n",
                     num(x), num(y), num(size), anchor, fill, extra, xml_escape(s));
}

// Labels for axis ticks: a common unit suffix chosen from the largest tick, and as many decimals
// as the step needs, so that neighbouring labels always differ (1.001k, 1.002k), with trailing
// zeros dropped per label (0, 0.5k, 1k).
std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
  std::vector<std::string> labels;
  double max_abs = 0;
  for (double t : ticks) max_abs = std::max(max_abs, std::abs(t));
  double step = ticks.size() >= 2 ? std::abs(ticks[1] - ticks[0]) : 0;
  if (max_abs >= 1e15 || max_abs < 1e-4 || !(step > 0)) {
    for (double t : ticks) labels.push_back(compact_number(t));
    return labels;
  }
  double unit = 1;
  const char* suffix = "";
  if (max_abs >= 1e12) {
    unit = 1e12;
    suffix = "T";
  } else if (max_abs >= 1e9) {
    unit = 1e9;
    suffix = "B";
  } else if (max_abs >= 1e6) {
    unit = 1e6;
    suffix = "M";
  } else if (max_abs >= 1e3) {
    unit = 1e3;
    suffix = "k";
  }
  double digits = std::ceil(-std::log10(step / unit) - 1e-9);
  int decimals = static_cast<int>(std::clamp(digits, 0.0, 12.0));
  for (double t : ticks) {
    std::string s = trim_fraction(fmt::format("{:.{}f}", t / unit, decimals));
    if (s == "0" || s == "-0") {
      labels.push_back("0");
    } else {
      labels.push_back(s + suffix);
    }
  }
  return labels;
}

double max_width(const std::vector<std::string>& labels, double size) {
  double w = 0;
  for (const std::string& l : labels) w = std::max(w, text_width(l, size));
  return w;
}

// Maps [lo, hi] onto [a, b] (b < a for the y axis), clamped to a finite band around the plot.
struct Scale {
  double lo = 0, hi = 1, a = 0, b = 1;

  double operator()(double v) const {
    double span = hi - lo;
    double t = span > 0 && std::isfinite(span) ? (v - lo) / span : 0.5;
    double p = a + t * (b - a);
    if (!std::isfinite(p)) p = (t > 0) == (b > a) ? kCoordinateLimit : -kCoordinateLimit;
    return std::clamp(p, -kCoordinateLimit, kCoordinateLimit);
  }
};

struct LegendItem {
  std::string name;
  std::string colour;
  std::string dash;
  bool bar = false;  // a filled square swatch, else a line
};

// The legend flowed into rows between x_start and x_end from baseline y_top + 14 down.
struct Legend {
  std::string svg;
  int rows = 0;
};

Legend layout_legend(const std::vector<LegendItem>& items, double x_start, double x_end,
                     double y_top) {
  Legend legend;
  if (items.empty()) return legend;
  constexpr double kSwatch = 18, kSwatchGap = 6, kItemGap = 18;
  double available = std::max(60.0, x_end - x_start);
  double x = x_start;
  int row = 0;
  for (const LegendItem& item : items) {
    std::string name = fit_text(item.name, available - kSwatch - kSwatchGap, kLegendSize);
    double w = kSwatch + kSwatchGap + text_width(name, kLegendSize);
    if (x > x_start && x + w > x_start + available) {
      x = x_start;
      ++row;
    }
    double baseline = y_top + 14 + row * kLegendRow;
    double mid = baseline - 4;
    if (item.bar) {
      legend.svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{}\"/>\n",
                                num(x + 3), num(mid - 6), item.colour);
    } else {
      legend.svg += fmt::format(
          "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"{}/>\n",
          num(x), num(mid), num(x + kSwatch), num(mid), item.colour,
          item.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", item.dash));
    }
    legend.svg += text(x + kSwatch + kSwatchGap, baseline, name, kLegendSize, "start", kTextColour);
    x += w + kItemGap;
  }
  legend.rows = row + 1;
  return legend;
}

struct Frame {
  double width = 640, height = 360;
};

Frame clamp_frame(int width, int height) {
  return {std::clamp(static_cast<double>(width), 240.0, 4000.0),
          std::clamp(static_cast<double>(height), 180.0, 4000.0)};
}

std::string open_svg(const Frame& f, const std::string& title, const char* fallback_title) {
  std::string label = title.empty() ? fallback_title : title;
  std::string escaped = xml_escape(label);
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" "
      "role=\"img\" aria-label=\"{t}\" font-family=\"{font}\">\n"
      "<title>{t}</title>\n"
      "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
      fmt::arg("w", num(f.width)), fmt::arg("h", num(f.height)), fmt::arg("t", escaped),
      fmt::arg("font", kFont));
}

// The plot rectangle and what surrounds it, shared by both chart kinds.
struct Plot {
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
};

// Horizontal grid lines with tick labels right-aligned left of the plot, and the rotated axis
// label just left of the widest tick label (so it stays close when the plot is pushed right).
std::string y_axis(const Plot& p, const Scale& y, const std::vector<double>& ticks,
                   const std::vector<std::string>& labels, const std::string& y_label) {
  std::string out;
  for (size_t i = 0; i < ticks.size(); ++i) {
    double py = y(ticks[i]);
    if (py < p.y0 - 0.5 || py > p.y1 + 0.5) continue;
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n",
                       num(p.x0), num(py), num(p.x1), num(py), kGridColour);
    out += text(p.x0 - 7, py + 4, labels[i], kTickSize, "end", kMutedColour);
  }
  if (!y_label.empty()) {
    // The rotated text's baseline: glyphs rise to its left, descenders reach ~3 px right.
    double label_x = p.x0 - 7 - max_width(labels, kTickSize) - 8;
    std::string fitted = fit_text(y_label, p.y1 - p.y0, kLabelSize);
    out += fmt::format(
        "<text transform=\"translate({},{}) rotate(-90)\" x=\"0\" y=\"0\" font-size=\"{}\" "
        "text-anchor=\"middle\" fill=\"{}\">{}</text>\n",
        num(label_x), num((p.y0 + p.y1) / 2), num(kLabelSize), kTextColour, xml_escape(fitted));
  }
  return out;
}

std::string no_data(const Plot& p) {
  return text((p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2 + 4, "No data", kLabelSize, "middle",
              kMutedColour);
}

// y ticks (and their axis range) for data in [lo, hi], honouring fixed bounds where given.
struct YAxis {
  std::vector<double> ticks;
  double lo = 0, hi = 1;
};

YAxis fit_y_axis(double data_lo, double data_hi, std::optional<double> fixed_lo_in,
                 std::optional<double> fixed_hi_in, int target) {
  // Plain flags rather than optionals: GCC 12 warns (falsely) about optionals reset here.
  bool has_lo = fixed_lo_in.has_value() && std::isfinite(*fixed_lo_in);
  bool has_hi = fixed_hi_in.has_value() && std::isfinite(*fixed_hi_in);
  double fixed_lo = has_lo ? *fixed_lo_in : 0;
  double fixed_hi = has_hi ? *fixed_hi_in : 0;
  if (has_lo && has_hi && fixed_lo > fixed_hi) std::swap(fixed_lo, fixed_hi);
  if (has_lo && has_hi && fixed_lo == fixed_hi) has_lo = has_hi = false;
  double lo = has_lo ? fixed_lo : data_lo;
  double hi = has_hi ? fixed_hi : data_hi;
  if (has_lo && !has_hi) hi = std::max(hi, lo);
  if (has_hi && !has_lo) lo = std::min(lo, hi);
  YAxis axis;
  std::vector<double> ticks = nice_ticks(lo, hi, target);
  axis.lo = has_lo ? lo : ticks.front();
  axis.hi = has_hi ? hi : ticks.back();
  if (!(axis.lo < axis.hi)) {
    axis.lo = ticks.front();
    axis.hi = ticks.back();
  }
  double tolerance = (axis.hi - axis.lo) * 1e-9;
  for (double t : ticks) {
    if (t >= axis.lo - tolerance && t <= axis.hi + tolerance) axis.ticks.push_back(t);
  }
  return axis;
}

// Tick labels every `every`-th, so that labels of width `label_w` spaced `spacing` apart do not
// overlap.
size_t label_stride(double label_w, double spacing) {
  if (!(spacing > 0)) return 1;
  double k = std::ceil((label_w + 8) / spacing);
  return k > 1 ? static_cast<size_t>(k) : 1;
}

// A series' finite points, in order; a skipped point starts a new run.
std::vector<std::vector<std::pair<double, double>>> runs_of(const Series& s) {
  std::vector<std::vector<std::pair<double, double>>> runs(1);
  size_t n = s.x.empty() ? s.y.size() : std::min(s.x.size(), s.y.size());
  for (size_t i = 0; i < n; ++i) {
    double x = s.x.empty() ? static_cast<double>(i) : s.x[i];
    double y = s.y[i];
    if (std::isfinite(x) && std::isfinite(y)) {
      runs.back().emplace_back(x, y);
    } else if (!runs.back().empty()) {
      runs.emplace_back();
    }
  }
  if (runs.back().empty()) runs.pop_back();
  return runs;
}

std::string series_name(const std::string& name, size_t i) {
  return name.empty() ? fmt::format("Series {}", i + 1) : name;
}

// Appends the title; returns the y below it.
double draw_title(std::string& out, const std::string& title, double x, double width) {
  if (title.empty()) return kPad;
  std::string fitted = fit_text(title, width, kTitleSize);
  out += text(x, kPad + kTitleSize, fitted, kTitleSize, "start", kTextColour,
              " font-weight=\"600\"");
  return kPad + kTitleSize + 10;
}

}  // namespace

std::string xml_escape(std::string_view text_in) {
  std::string out;
  out.reserve(text_in.size());
  for (char c : text_in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    double pad = std::abs(lo) * 0.1;
    if (!(pad > 0) || lo - pad == lo) pad = 1;
    constexpr double kMax = std::numeric_limits<double>::max();
    lo = std::max(lo - pad, -kMax);
    hi = std::min(hi + pad, kMax);
  }
  target = std::clamp(target, 4, 8);
  double range = hi - lo;
  double magnitude = std::max(std::abs(lo), std::abs(hi));
  if (!std::isfinite(range) || !(range > magnitude * 1e-12)) return {lo, hi};

  double best_score = std::numeric_limits<double>::infinity();
  double best_mantissa = 0;
  int best_exponent = 0;
  int64_t best_first = 0, best_last = 0;
  int e0 = static_cast<int>(std::floor(std::log10(range / target)));
  for (int e = e0 - 1; e <= e0 + 2; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      double step = e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e);
      if (!(step > 0) || !std::isfinite(step)) continue;
      double first = std::floor(lo / step + 1e-9);
      double last = std::ceil(hi / step - 1e-9);
      if (!std::isfinite(first) || !std::isfinite(last) || last - first > 1000) continue;
      double count = last - first + 1;
      double score = count >= 4 && count <= 8 ? std::abs(count - target)
                                              : 100 + std::max(4 - count, count - 8);
      // Steps come in increasing order: on a tie the larger step (fewer ticks) wins.
      if (score <= best_score) {
        best_score = score;
        best_mantissa = m;
        best_exponent = e;
        best_first = static_cast<int64_t>(first);
        best_last = static_cast<int64_t>(last);
      }
    }
  }
  if (best_mantissa == 0) return {lo, hi};
  std::vector<double> ticks;
  double scale = std::pow(10.0, std::abs(best_exponent));
  double step = best_exponent >= 0 ? best_mantissa * scale : best_mantissa / scale;
  for (int64_t i = best_first; i <= best_last; ++i) {
    double units = static_cast<double>(i) * best_mantissa;
    double t = best_exponent >= 0 ? units * scale : units / scale;
    if (std::abs(t) < step * 1e-9) t = 0;
    if (!std::isfinite(t)) return {lo, hi};  // a covering tick past the largest double
    ticks.push_back(t);
  }
  return ticks;
}

std::string compact_number(double value) {
  if (std::isnan(value)) return "n/a";
  if (std::isinf(value)) return value > 0 ? "\xE2\x88\x9E" : "-\xE2\x88\x9E";
  if (value == 0) return "0";
  // Rounded to three significant digits first, so that 999.9 becomes 1k, not 1000.
  // (Arithmetic, not a parse of "{:.2e}": strtod would follow the C locale's decimal point.)
  double magnitude = std::abs(value);
  double digit = std::pow(10.0, std::floor(std::log10(magnitude)) - 2);
  double rounded = digit > 0 && std::isfinite(digit) ? std::round(magnitude / digit) * digit
                                                     : magnitude;
  const char* sign = value < 0 ? "-" : "";
  if (rounded < 1e-4 || rounded >= 1e15) {
    std::string s = fmt::format("{:.2e}", std::abs(value));
    size_t e = s.find('e');
    return sign + trim_fraction(s.substr(0, e)) + s.substr(e);
  }
  struct Unit {
    double size;
    const char* suffix;
  };
  constexpr Unit kUnits[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}, {1, ""}};
  Unit unit = kUnits[4];
  for (const Unit& u : kUnits) {
    if (rounded >= u.size) {
      unit = u;
      break;
    }
  }
  double scaled = rounded / unit.size;
  int decimals = 2;
  if (scaled >= 100) {
    decimals = 0;
  } else if (scaled >= 10) {
    decimals = 1;
  } else if (scaled < 1) {
    decimals = 2 - static_cast<int>(std::floor(std::log10(scaled)));
  }
  return sign + trim_fraction(fmt::format("{:.{}f}", scaled, decimals)) + unit.suffix;
}

std::string render_line_chart(const LineChart& chart) {
  Frame f = clamp_frame(chart.width, chart.height);

  // Data extent over all finite points.
  std::vector<std::vector<std::vector<std::pair<double, double>>>> runs;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : chart.series) {
    runs.push_back(runs_of(s));
    for (const auto& run : runs.back()) {
      for (const auto& [x, y] : run) {
        x_lo = std::min(x_lo, x);
        x_hi = std::max(x_hi, x);
        y_lo = std::min(y_lo, y);
        y_hi = std::max(y_hi, y);
      }
    }
  }
  bool empty = !(x_lo <= x_hi);
  if (empty) {
    x_lo = 0;
    x_hi = 1;
    y_lo = 0;
    y_hi = 1;
  }

  YAxis yaxis = fit_y_axis(y_lo, y_hi, chart.y_min, chart.y_max, f.height >= 300 ? 6 : 4);
  std::vector<std::string> y_labels = tick_labels(yaxis.ticks);
  std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, f.width >= 480 ? 7 : 4);
  std::vector<std::string> x_labels = tick_labels(x_ticks);

  Plot p;
  double y_label_room = chart.y_label.empty() ? 0 : kLabelSize + 8;
  p.x0 = kPad + y_label_room + max_width(y_labels, kTickSize) + 10;
  double last_x_label = x_labels.empty() ? 0 : text_width(x_labels.back(), kTickSize);
  p.x1 = f.width - std::max(kPad + 4, last_x_label / 2 + 6);

  std::string body;
  double top = draw_title(body, chart.title, p.x0, f.width - p.x0 - kPad);
  std::vector<LegendItem> items;
  bool unnamed_single = chart.series.size() == 1 && chart.series[0].name.empty();
  for (size_t i = 0; i < chart.series.size() && !unnamed_single; ++i) {
    items.push_back({series_name(chart.series[i].name, i), colour(i),
                     dash(i, chart.series[i].dashed), false});
  }
  Legend legend = layout_legend(items, p.x0, f.width - kPad, top - 4);
  body += legend.svg;
  top += legend.rows * kLegendRow + 8;

  double bottom_room = 4 + kTickSize + 8 + (chart.x_label.empty() ? 0 : kLabelSize + 8) + 6;
  // A legend too tall for the requested height makes the chart taller rather than squash it.
  f.height = std::max(f.height, top + 100 + bottom_room);
  p.y0 = top;
  p.y1 = f.height - bottom_room;

  Scale xs{x_ticks.front(), x_ticks.back(), p.x0, p.x1};
  Scale ys{yaxis.lo, yaxis.hi, p.y1, p.y0};

  std::string out = open_svg(f, chart.title, "Line chart");
  out += body;
  out += y_axis(p, ys, yaxis.ticks, y_labels, chart.y_label);

  // x grid and tick labels, thinned when the labels would collide.
  double spacing = x_ticks.size() > 1 ? (p.x1 - p.x0) / static_cast<double>(x_ticks.size() - 1) : 0;
  size_t stride = label_stride(max_width(x_labels, kTickSize), spacing);
  for (size_t i = 0; i < x_ticks.size(); ++i) {
    double px = xs(x_ticks[i]);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n",
                       num(px), num(p.y0), num(px), num(p.y1), kGridColour);
    if (i % stride == 0) {
      out += text(px, p.y1 + 4 + kTickSize + 2, x_labels[i], kTickSize, "middle", kMutedColour);
    }
  }
  if (!chart.x_label.empty()) {
    std::string fitted = fit_text(chart.x_label, p.x1 - p.x0, kLabelSize);
    out += text((p.x0 + p.x1) / 2, p.y1 + 4 + kTickSize + 8 + kLabelSize + 2, fitted, kLabelSize,
                "middle", kTextColour);
  }
  out += fmt::format("<path d=\"M{},{}V{}H{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1\"/>\n",
                     num(p.x0), num(p.y0), num(p.y1), num(p.x1), kAxisColour);

  // The series, clipped to the plot (plus room for a line's half-width and markers) by a
  // nested <svg> whose viewBox equals its placement: same coordinates, no clip id needed.
  constexpr double kBleed = 4;
  out += fmt::format("<svg x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" viewBox=\"{x} {y} {w} {h}\">\n",
                     fmt::arg("x", num(p.x0 - kBleed)), fmt::arg("y", num(p.y0 - kBleed)),
                     fmt::arg("w", num(p.x1 - p.x0 + 2 * kBleed)),
                     fmt::arg("h", num(p.y1 - p.y0 + 2 * kBleed)));
  for (size_t i = 0; i < chart.series.size(); ++i) {
    size_t points = 0;
    for (const auto& run : runs[i]) points += run.size();
    if (points == 0) continue;
    std::string d = dash(i, chart.series[i].dashed);
    out += fmt::format("<g fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                       "stroke-linecap=\"round\"{}>\n<title>{}</title>\n",
                       colour(i), d.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", d),
                       xml_escape(series_name(chart.series[i].name, i)));
    std::string path;
    for (const auto& run : runs[i]) {
      if (run.size() < 2) continue;
      for (size_t k = 0; k < run.size(); ++k) {
        path += fmt::format("{}{},{}", k == 0 ? (path.empty() ? "M" : " M") : " L",
                            num(xs(run[k].first)), num(ys(run[k].second)));
      }
    }
    if (!path.empty()) out += fmt::format("<path d=\"{}\"/>\n", path);
    // Markers: on every point of a short series, and always on an isolated point (it has no
    // line to show it).
    for (const auto& run : runs[i]) {
      if (points > kMaxMarkedPoints && run.size() > 1) continue;
      for (const auto& [x, y] : run) {
        out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" stroke=\"none\"/>\n",
                           num(xs(x)), num(ys(y)), run.size() == 1 ? "3.5" : "2.5", colour(i));
      }
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  if (empty) out += no_data(p);
  out += "</svg>\n";
  return out;
}

std::string render_bar_chart(const BarChart& chart) {
  Frame f = clamp_frame(chart.width, chart.height);
  size_t n_series = chart.series_names.size();
  for (const BarGroup& g : chart.groups) n_series = std::max(n_series, g.values.size());
  size_t n_groups = chart.groups.size();

  // Extent: grouped bars span their values, stacked ones their positive and negative sums;
  // either way 0 is the baseline and always in range.
  double lo = 0, hi = 0;
  bool any = false;
  for (const BarGroup& g : chart.groups) {
    double up = 0, down = 0;
    for (double v : g.values) {
      if (!std::isfinite(v)) continue;
      any = true;
      if (chart.stacked) {
        (v >= 0 ? up : down) += v;
      } else {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    lo = std::min(lo, down);
    hi = std::max(hi, up);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) {  // sums that overflowed
    lo = 0;
    hi = 1;
    any = false;
  }
  if (!any) hi = 1;
  YAxis yaxis = fit_y_axis(lo, hi, std::nullopt, std::nullopt, f.height >= 300 ? 6 : 4);
  std::vector<std::string> y_labels = tick_labels(yaxis.ticks);

  Plot p;
  double y_label_room = chart.y_label.empty() ? 0 : kLabelSize + 8;
  p.x0 = kPad + y_label_room + max_width(y_labels, kTickSize) + 10;
  p.x1 = f.width - kPad - 4;

  // Group labels: horizontal when they fit their band, else rotated by 35 degrees (shortened to
  // 160 px), and then only every k-th one when the bands are too narrow for rotated text.
  std::vector<std::string> group_labels;
  for (const BarGroup& g : chart.groups) group_labels.push_back(g.label);
  double band = n_groups > 0 ? (p.x1 - p.x0) / static_cast<double>(n_groups) : p.x1 - p.x0;
  bool rotated = max_width(group_labels, kTickSize) > band - 6;
  double label_depth = kTickSize + 8;
  size_t stride = 1;
  if (rotated) {
    for (std::string& l : group_labels) l = fit_text(l, 160, kTickSize);
    double w = max_width(group_labels, kTickSize);
    // The first label reaches left of its bar by w cos 35: keep it inside the frame.
    p.x0 = std::max(p.x0, w * kCos35 - band / 2 + kPad);
    band = n_groups > 0 ? (p.x1 - p.x0) / static_cast<double>(n_groups) : p.x1 - p.x0;
    label_depth = w * kSin35 + kTickSize * kCos35 + 8;
    double k = std::ceil((kTickSize + 3) / std::max(band * kSin35, 1e-9));
    stride = k > 1 ? static_cast<size_t>(std::min(k, 1e6)) : 1;
  }

  std::string body;
  double top = draw_title(body, chart.title, p.x0, f.width - p.x0 - kPad);
  std::vector<LegendItem> items;
  bool unnamed_single = n_series == 1 && (chart.series_names.empty() || chart.series_names[0].empty());
  for (size_t i = 0; i < n_series && !unnamed_single; ++i) {
    std::string name = i < chart.series_names.size() ? chart.series_names[i] : "";
    items.push_back({series_name(name, i), colour(i), "", true});
  }
  Legend legend = layout_legend(items, p.x0, f.width - kPad, top - 4);
  body += legend.svg;
  top += legend.rows * kLegendRow + 8;

  double bottom_room = 4 + label_depth + 6;
  f.height = std::max(f.height, top + 100 + bottom_room);
  p.y0 = top;
  p.y1 = f.height - bottom_room;
  Scale ys{yaxis.lo, yaxis.hi, p.y1, p.y0};

  std::string out = open_svg(f, chart.title, "Bar chart");
  out += body;
  out += y_axis(p, ys, yaxis.ticks, y_labels, chart.y_label);

  double zero = ys(0);
  for (size_t gi = 0; gi < n_groups; ++gi) {
    const BarGroup& g = chart.groups[gi];
    double gx = p.x0 + band * static_cast<double>(gi);
    double centre = gx + band / 2;
    std::string group_name = g.label.empty() ? fmt::format("Group {}", gi + 1) : g.label;
    auto bar = [&](double x, double w, double from, double to, size_t si, double v) {
      // Bars fit the axis by construction; the clamp only tames sums that overflowed.
      double y_a = std::clamp(ys(from), p.y0, p.y1), y_b = std::clamp(ys(to), p.y0, p.y1);
      std::string name = si < chart.series_names.size() ? chart.series_names[si] : "";
      out += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>\n",
          num(x), num(std::min(y_a, y_b)), num(std::max(w, 0.0)), num(std::abs(y_a - y_b)),
          colour(si),
          xml_escape(fmt::format("{}, {}: {}", group_name, series_name(name, si),
                                 fmt::format("{:.6g}", v))));
    };
    if (chart.stacked) {
      double w = std::min(band * 0.6, 80.0);
      double up = 0, down = 0;
      for (size_t si = 0; si < g.values.size(); ++si) {
        double v = g.values[si];
        if (!std::isfinite(v)) continue;
        double& base = v >= 0 ? up : down;
        bar(centre - w / 2, w, base, base + v, si, v);
        base += v;
      }
    } else if (n_series > 0) {
      double inner = band * 0.8;
      double w = std::min(inner / static_cast<double>(n_series), 60.0);
      double start = centre - w * static_cast<double>(n_series) / 2;
      double gap = w > 6 ? 1 : 0;
      for (size_t si = 0; si < g.values.size(); ++si) {
        double v = g.values[si];
        if (!std::isfinite(v)) continue;
        bar(start + w * static_cast<double>(si) + gap / 2, w - gap, 0, v, si, v);
      }
    }
    if (gi % stride == 0) {
      if (rotated) {
        double ly = p.y1 + 4 + kTickSize;
        out += fmt::format(
            "<text transform=\"translate({},{}) rotate(-35)\" x=\"0\" y=\"0\" font-size=\"{}\" "
            "text-anchor=\"end\" fill=\"{}\">{}</text>\n",
            num(centre + 3), num(ly), num(kTickSize), kMutedColour, xml_escape(group_labels[gi]));
      } else {
        out += text(centre, p.y1 + 4 + kTickSize + 2, group_labels[gi], kTickSize, "middle",
                    kMutedColour);
      }
    }
  }
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n",
                     num(p.x0), num(zero), num(p.x1), num(zero), kAxisColour);
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n",
                     num(p.x0), num(p.y0), num(p.x0), num(p.y1), kAxisColour);
  if (!any) out += no_data(p);
  out += "</svg>\n";
  return out;
}

}  // namespace lethe
