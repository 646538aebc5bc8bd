// Line and bar charts as standalone <svg> strings, for the self-contained HTML of `lethe report`.
//
// Why hand-written SVG: the report must open from a file with no network, no JavaScript and no
// plotting dependency, and must be byte-for-byte reproducible (it is compared across runs and
// attached to experiment records). So the renderer is a pure function of its input: every number
// goes through fixed fmt formats, there is no clock, no randomness, no locale, and no element ids
// (several charts share one HTML document; the plot area is clipped with a nested <svg>, which
// needs none).
//
// Robustness over fidelity: reports are written from whatever a run left behind, so NaN and
// infinite values are skipped (a NaN y breaks a line), empty or single-point series and all-equal
// values get a padded range, and no "nan" or "inf" ever reaches the output. Text is measured
// with an average-glyph-width estimate (no font metrics exist here), which is why layouts leave
// slack and long labels are shortened with an ellipsis (the full text stays in <title> tooltips).
//
// Colours come from the Okabe-Ito palette (distinguishable with the common colour-vision
// deficiencies); past eight series the colours repeat with a dash pattern.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lethe {

// One line. `x` and `y` pair up by index; an empty `x` means 0, 1, 2, ...; extra values in the
// longer vector are ignored. A point with a non-finite x or y is skipped and breaks the line.
struct Series {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  // Fixed y-axis bounds (data outside is clipped); unset = fitted to the data on nice ticks.
  std::optional<double> y_min, y_max;
  int width = 640, height = 360;  // clamped to [240, 4000] x [180, 4000]
};

// An <svg> element (with xmlns, viewBox, width/height, role="img" and a <title>).
std::string render_line_chart(const LineChart& chart);

// One category on the x axis: values[i] belongs to series i (NaN or missing = no bar).
struct BarGroup {
  std::string label;
  std::vector<double> values;
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> series_names;  // series past the names are called "Series N"
  std::vector<BarGroup> groups;
  int width = 640, height = 360;  // clamped as for LineChart
  // Stacked: one bar per group, positive values stacked up from 0 and negative ones down.
  // Grouped (default): the series side by side within each group.
  bool stacked = false;
};

std::string render_bar_chart(const BarChart& chart);

// Axis ticks at multiples of a step 1, 2 or 5 x 10^k, covering [lo, hi] (the first tick <= lo,
// the last >= hi), with a count in [4, 8] as close as possible to `target` (clamped to [4, 8]).
// lo > hi are swapped; lo == hi is padded by 10% of |lo| (or 1 at 0); non-finite bounds give the
// ticks of [0, 1]; a range too wide or too narrow for doubles gives {lo, hi}.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// A short label for a value: three significant digits with trailing zeros dropped, and k, M, B
// (billion), T suffixes from 1000 up: 0.5, 12, 0.125, 1.2k, 3.4M, -25k. Exponent form below 1e-4
// and from 1e15 (1.5e-05, 2e+15); "0" for zero; "n/a", "∞", "-∞" for non-finite values.
std::string compact_number(double value);

// XML text and attribute escaping: & < > " ' become entities, and control characters that XML
// 1.0 forbids (all below 0x20 except tab, newline, carriage return) are dropped.
std::string xml_escape(std::string_view text);

}  // namespace lethe
