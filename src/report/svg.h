#pragma once
// A tiny writer of inline SVG charts for the HTML report: line charts with
// axes, ticks and a legend, and a heat map. No JavaScript, no fonts beyond
// the browser's own, so the page opens offline. Every text is HTML-escaped.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qsenti::report {

// < > & " ' as entities: safe in element text and in quoted attributes.
std::string html_escape(std::string_view s);

// Colour i of a palette that tells runs apart (cycles after 10).
const char* palette_colour(size_t i);

// About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

struct Series {
  std::string name;  // legend text; empty: no legend entry
  std::vector<double> x, y;
  std::string colour;
  bool dashed = false;
  bool markers = false;  // a dot at each point (few points, e.g. validations)
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  // Axis ranges; unset: from the data (with round ticks).
  std::optional<double> x_min, x_max, y_min, y_max;
  bool diagonal = false;  // the y = x line (ROC chance, perfect calibration)
  int width = 440, height = 300;
};

// <svg class="chart">; a chart with no points says so inside its frame.
std::string line_chart_svg(const LineChart& chart);

struct HeatMap {
  std::string title;
  std::vector<std::string> labels;             // rows (true) and columns (predicted)
  std::vector<std::vector<int64_t>> counts;     // [true][predicted]
};

// <svg class="heatmap">: one <rect class="cell" data-true data-pred data-count>
// per cell, shaded by its share of its row (so rare classes are readable),
// with the count written in it.
std::string heat_map_svg(const HeatMap& map);

// A number for a chart or table: 4 significant digits, no trailing zeros.
std::string short_number(double v);

}  // namespace qsenti::report
