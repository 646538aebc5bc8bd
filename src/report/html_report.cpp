#include "src/report/html_report.h"

#include <fmt/format.h>

#include "src/report/svg_chart.h"

namespace lethe {

namespace {

// One stylesheet for every report. System fonts only; the charts carry their own white
// background, so the page stays light even where the reader prefers dark.
constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: #f6f7f9; color: #1f2937;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 15px; line-height: 1.55;
}
main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 48px; }
header.page { margin-bottom: 28px; }
h1 { font-size: 26px; line-height: 1.25; margin: 0 0 4px; font-weight: 650; letter-spacing: -0.01em; }
.subtitle { margin: 0; color: #4b5563; font-size: 16px; }
dl.facts {
  display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1px;
  margin: 20px 0 0; background: #e5e7eb; border: 1px solid #e5e7eb; border-radius: 8px;
  overflow: hidden;
}
dl.facts > div { background: #ffffff; padding: 10px 14px; min-width: 0; }
dl.facts dt { font-size: 12px; color: #6b7280; text-transform: uppercase; letter-spacing: 0.04em; }
dl.facts dd { margin: 2px 0 0; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
section {
  background: #ffffff; border: 1px solid #e5e7eb; border-radius: 8px;
  padding: 20px 24px; margin: 0 0 20px;
}
h2 { font-size: 19px; margin: 0 0 10px; font-weight: 650; }
section p { margin: 0 0 12px; }
figure { margin: 16px 0; text-align: center; }
figure svg { max-width: 100%; height: auto; display: inline-block; }
.table-wrap { overflow-x: auto; margin: 16px 0 4px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #374151; background: #f9fafb; border-bottom: 2px solid #d1d5db; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #f9fafb; }
.note {
  margin: 14px 0 0; padding: 10px 14px; background: #f8fafc; border-left: 3px solid #0072B2;
  color: #374151; font-size: 14px; border-radius: 0 6px 6px 0;
}
.note > :last-child { margin-bottom: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
footer { color: #6b7280; font-size: 13px; margin-top: 28px; text-align: center; }
@media print {
  body { background: #ffffff; }
  main { padding: 0; }
  section { border: none; padding: 0; break-inside: avoid; }
}
)css";

// "12", "-0.5", "+3", "1,024", "3.4M", "98.2%", "1.5e-05", "12x": digits with at most one unit
// suffix; text with digits in it ("run 3", "v1.2-rc", "1.2.3", "2024-05-01") is not numeric.
bool looks_numeric(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  bool digit = false;
  bool exponent = false;
  int dots = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.' && !exponent && dots == 0) {
      ++dots;
    } else if (c == ',' && digit && dots == 0 && !exponent) {
      // a thousands separator
    } else if ((c == 'e' || c == 'E') && digit && !exponent && i + 1 < s.size() &&
               (s[i + 1] == '-' || s[i + 1] == '+' || (s[i + 1] >= '0' && s[i + 1] <= '9'))) {
      exponent = true;
      if (s[i + 1] == '-' || s[i + 1] == '+') ++i;
    } else {
      break;
    }
  }
  if (!digit) return false;
  std::string_view rest = s.substr(i);
  return rest.empty() || rest == "%" || rest == "k" || rest == "M" || rest == "B" || rest == "G" ||
         rest == "T" || rest == "x" || rest == "\xC3\x97";  // ×
}

std::string cell(const char* tag, const std::string& text, bool numeric) {
  return fmt::format("<{0}{1}>{2}</{0}>", tag, numeric ? " class=\"num\"" : "",
                     html_escape(text));
}

}  // namespace

std::string html_escape(std::string_view text) { return xml_escape(text); }

std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows) {
  // A header sits over its numbers (right-aligned) when every non-empty cell below is numeric.
  std::vector<int> numeric_column(header.size(), -1);  // -1 no cell yet, 0 no, 1 yes
  for (const std::vector<std::string>& row : rows) {
    for (size_t j = 0; j < row.size() && j < header.size(); ++j) {
      if (row[j].empty() || numeric_column[j] == 0) continue;
      numeric_column[j] = looks_numeric(row[j]) ? 1 : 0;
    }
  }
  std::string out = "<table>\n";
  if (!header.empty()) {
    out += "<thead><tr>";
    for (size_t j = 0; j < header.size(); ++j) out += cell("th", header[j], numeric_column[j] == 1);
    out += "</tr></thead>\n";
  }
  out += "<tbody>\n";
  for (const std::vector<std::string>& row : rows) {
    out += "<tr>";
    for (const std::string& c : row) out += cell("td", c, looks_numeric(c));
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  return out;
}

std::string render_report(const ReportPage& page) {
  std::string title = page.title.empty() ? "Lethe report" : page.title;
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"lethe report\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
      html_escape(title), kStyle);

  out += "<header class=\"page\">\n";
  out += fmt::format("<h1>{}</h1>\n", html_escape(title));
  if (!page.subtitle.empty()) {
    out += fmt::format("<p class=\"subtitle\">{}</p>\n", html_escape(page.subtitle));
  }
  if (!page.facts.empty()) {
    out += "<dl class=\"facts\">\n";
    for (const auto& [label, value] : page.facts) {
      out += fmt::format("<div><dt>{}</dt><dd>{}</dd></div>\n", html_escape(label),
                         html_escape(value));
    }
    out += "</dl>\n";
  }
  out += "</header>\n";

  for (const ReportSection& s : page.sections) {
    out += "<section>\n";
    if (!s.heading.empty()) out += fmt::format("<h2>{}</h2>\n", html_escape(s.heading));
    if (!s.intro_html.empty()) out += s.intro_html + "\n";
    for (const std::string& svg : s.figures_svg) {
      if (!svg.empty()) out += "<figure>\n" + svg + "</figure>\n";
    }
    if (!s.table_html.empty()) out += "<div class=\"table-wrap\">\n" + s.table_html + "</div>\n";
    if (!s.note_html.empty()) out += "<div class=\"note\">\n" + s.note_html + "\n</div>\n";
    out += "</section>\n";
  }

  if (!page.footer.empty()) out += fmt::format("<footer>{}</footer>\n", html_escape(page.footer));
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace lethe
