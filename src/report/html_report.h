// The page of `lethe report`: one self-contained HTML5 file (UTF-8, inline CSS, inline SVG
// figures) that opens anywhere, offline, and can be archived or mailed next to a run.
//
// Why no JavaScript, web fonts or links to anything: the report is evidence about a deletion
// (what was trained, what was forgotten, what it cost), read long after the run on machines we
// do not control; it must render the same with the network off and must not change under the
// reader. Like the charts, the page is a pure function of its input, byte for byte.
//
// Trust boundary: fields named *_html and figures_svg are inserted as markup (they come from our
// own renderers: html_table, render_line_chart, ...); every other string is plain text and is
// escaped here. Anything that came from a user or a data file must go through html_escape or
// html_table before it lands in an *_html field.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lethe {

struct ReportSection {
  std::string heading;                   // text
  std::string intro_html;                // markup, before the figures (e.g. <p>...</p>)
  std::vector<std::string> figures_svg;  // <svg> elements, each in a <figure>
  std::string table_html;                // markup, e.g. from html_table; scrolls sideways if wide
  std::string note_html;                 // markup, set apart as a note after the table
};

struct ReportPage {
  std::string title;                                        // text; also the <title>
  std::string subtitle;                                     // text
  std::vector<std::pair<std::string, std::string>> facts;   // (label, value) text, as a grid
  std::vector<ReportSection> sections;
  std::string footer;                                       // text
};

// A complete HTML5 document. Empty parts (no subtitle, no facts, an empty section field) are
// left out rather than rendered as empty boxes.
std::string render_report(const ReportPage& page);

// Text for HTML content and attributes: & < > " ' become entities; control characters that
// HTML forbids are dropped (as xml_escape).
std::string html_escape(std::string_view text);

// A <table> with a header row (none when `header` is empty) and body rows; every cell is text,
// escaped. Cells that look numeric ("12", "-0.5", "3.4M", "98.2%", "1,024") get class "num",
// which the report's CSS right-aligns with tabular figures, and so does the header of a column
// whose non-empty cells all do. Rows may be ragged.
std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows);

}  // namespace lethe
