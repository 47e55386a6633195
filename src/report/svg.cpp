#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace qsenti::report {
namespace {

// Plot area margins (pixels): room for tick labels, the title and the axis labels.
constexpr int kLeft = 58, kRight = 14, kTop = 30, kBottom = 46, kLegendRow = 16;

std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Range {
  double lo, hi;
};

// The data's extent over the finite values, widened when it is one point.
Range extent(const std::vector<Series>& series, bool x) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : x ? s.x : s.y)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (!std::isfinite(lo)) return {0, 1};
  if (hi - lo < 1e-12) {
    const double pad = std::abs(lo) > 1e-12 ? std::abs(lo) * 0.1 : 0.5;
    return {lo - pad, hi + pad};
  }
  return {lo, hi};
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* palette_colour(size_t i) {
  // Tableau 10: distinct in print and for most colour-blind readers.
  static const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return kColours[i % 10];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t <= hi + step * 0.999; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    if (t >= hi - step * 1e-9) break;
  }
  return ticks;
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string line_chart_svg(const LineChart& c) {
  size_t legend = 0;
  for (const auto& s : c.series) legend += !s.name.empty();
  const int W = c.width, H = c.height + static_cast<int>(legend) * kLegendRow;
  const double pw = W - kLeft - kRight, ph = c.height - kTop - kBottom;
  const Range dx = extent(c.series, true), dy = extent(c.series, false);
  // Unset ends follow the data, rounded out to ticks.
  std::vector<double> xt = nice_ticks(c.x_min.value_or(dx.lo), c.x_max.value_or(dx.hi));
  std::vector<double> yt = nice_ticks(c.y_min.value_or(dy.lo), c.y_max.value_or(dy.hi));
  const double x0 = c.x_min.value_or(xt.front()), x1 = c.x_max.value_or(std::max(xt.back(), x0 + 1e-12));
  const double y0 = c.y_min.value_or(yt.front()), y1 = c.y_max.value_or(std::max(yt.back(), y0 + 1e-12));
  auto sx = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto sy = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };

  std::ostringstream o;
  o << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" role=\"img\" aria-label=\"" << html_escape(c.title) << "\">\n";
  o << "<title>" << html_escape(c.title) << "</title>\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << H << "\" fill=\"#fff\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
    << html_escape(c.title) << "</text>\n";
  // Grid and ticks.
  o << "<g font-size=\"10\" fill=\"#444\">\n";
  for (double t : xt) {
    if (t < x0 - 1e-12 || t > x1 + 1e-12) continue;
    o << "<line x1=\"" << px(sx(t)) << "\" y1=\"" << kTop << "\" x2=\"" << px(sx(t)) << "\" y2=\"" << px(kTop + ph)
      << "\" stroke=\"#eee\"/><text x=\"" << px(sx(t)) << "\" y=\"" << px(kTop + ph + 14)
      << "\" text-anchor=\"middle\">" << short_number(t) << "</text>\n";
  }
  for (double t : yt) {
    if (t < y0 - 1e-12 || t > y1 + 1e-12) continue;
    o << "<line x1=\"" << kLeft << "\" y1=\"" << px(sy(t)) << "\" x2=\"" << px(kLeft + pw) << "\" y2=\"" << px(sy(t))
      << "\" stroke=\"#eee\"/><text x=\"" << kLeft - 4 << "\" y=\"" << px(sy(t) + 3) << "\" text-anchor=\"end\">"
      << short_number(t) << "</text>\n";
  }
  o << "</g>\n";
  o << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << px(pw) << "\" height=\"" << px(ph)
    << "\" fill=\"none\" stroke=\"#888\"/>\n";
  o << "<text x=\"" << px(kLeft + pw / 2) << "\" y=\"" << c.height - 10 << "\" text-anchor=\"middle\" font-size=\"11\">"
    << html_escape(c.x_label) << "</text>\n";
  o << "<text transform=\"translate(13," << px(kTop + ph / 2) << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">"
    << html_escape(c.y_label) << "</text>\n";
  if (c.diagonal) {
    const double lo = std::max(x0, y0), hi = std::min(x1, y1);
    if (hi > lo)
      o << "<line x1=\"" << px(sx(lo)) << "\" y1=\"" << px(sy(lo)) << "\" x2=\"" << px(sx(hi)) << "\" y2=\"" << px(sy(hi))
        << "\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n";
  }
  bool any = false;
  for (const auto& s : c.series) {
    // Non-finite values break the line into pieces.
    std::vector<std::string> pieces(1);
    std::vector<std::pair<double, double>> dots;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        if (!pieces.back().empty()) pieces.emplace_back();
        continue;
      }
      const double X = std::clamp(sx(s.x[i]), kLeft - 1.0, kLeft + pw + 1), Y = std::clamp(sy(s.y[i]), kTop - 1.0, kTop + ph + 1);
      pieces.back() += (pieces.back().empty() ? "" : " ") + px(X) + "," + px(Y);
      dots.emplace_back(X, Y);
    }
    any = any || !dots.empty();
    o << "<g class=\"series\" data-name=\"" << html_escape(s.name) << "\">";
    for (const auto& p : pieces)
      if (!p.empty())
        o << "<polyline fill=\"none\" stroke=\"" << html_escape(s.colour) << "\" stroke-width=\"1.8\""
          << (s.dashed ? " stroke-dasharray=\"5 3\"" : "") << " points=\"" << p << "\"/>";
    if (s.markers)
      for (const auto& [X, Y] : dots)
        o << "<circle cx=\"" << px(X) << "\" cy=\"" << px(Y) << "\" r=\"2.5\" fill=\"" << html_escape(s.colour) << "\"/>";
    o << "</g>\n";
  }
  if (!any)
    o << "<text x=\"" << px(kLeft + pw / 2) << "\" y=\"" << px(kTop + ph / 2)
      << "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#888\">no data</text>\n";
  int row = 0;
  for (const auto& s : c.series) {
    if (s.name.empty()) continue;
    const int y = c.height + row++ * kLegendRow + 4;
    o << "<line x1=\"" << kLeft << "\" y1=\"" << y << "\" x2=\"" << kLeft + 22 << "\" y2=\"" << y << "\" stroke=\""
      << html_escape(s.colour) << "\" stroke-width=\"2\"" << (s.dashed ? " stroke-dasharray=\"5 3\"" : "")
      << "/><text x=\"" << kLeft + 28 << "\" y=\"" << y + 4 << "\" font-size=\"11\">" << html_escape(s.name)
      << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string heat_map_svg(const HeatMap& m) {
  const size_t k = m.labels.size();
  const int cell = k <= 4 ? 56 : k <= 10 ? 40 : std::max(14, 440 / static_cast<int>(k));
  const int left = 118, top = 34, bottom = 78;
  const int W = left + cell * static_cast<int>(k) + 16, H = top + cell * static_cast<int>(k) + bottom;
  std::ostringstream o;
  o << "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" role=\"img\" aria-label=\"" << html_escape(m.title) << "\">\n";
  o << "<title>" << html_escape(m.title) << "</title>\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << H << "\" fill=\"#fff\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
    << html_escape(m.title) << "</text>\n";
  for (size_t t = 0; t < k; ++t) {
    int64_t row_sum = 0;
    if (t < m.counts.size())
      for (int64_t v : m.counts[t]) row_sum += v;
    for (size_t p = 0; p < k; ++p) {
      const int64_t v = t < m.counts.size() && p < m.counts[t].size() ? m.counts[t][p] : 0;
      const double share = row_sum > 0 ? static_cast<double>(v) / static_cast<double>(row_sum) : 0.0;
      // White to dark blue by the row's share.
      const int r = static_cast<int>(247 + (8 - 247) * share), g = static_cast<int>(251 + (48 - 251) * share),
                b = static_cast<int>(255 + (107 - 255) * share);
      const int x = left + static_cast<int>(p) * cell, y = top + static_cast<int>(t) * cell;
      o << "<rect class=\"cell\" data-true=\"" << t << "\" data-pred=\"" << p << "\" data-count=\"" << v << "\" x=\"" << x
        << "\" y=\"" << y << "\" width=\"" << cell << "\" height=\"" << cell << "\" fill=\"rgb(" << r << "," << g << ","
        << b << ")\" stroke=\"#ccc\"><title>true " << html_escape(m.labels[t]) << ", predicted "
        << html_escape(m.labels[p]) << ": " << v << "</title></rect>";
      o << "<text x=\"" << x + cell / 2 << "\" y=\"" << y + cell / 2 + 4 << "\" text-anchor=\"middle\" font-size=\""
        << (cell >= 36 ? 12 : 9) << "\" fill=\"" << (share > 0.5 ? "#fff" : "#222") << "\">" << v << "</text>\n";
    }
  }
  o << "<g font-size=\"11\">\n";
  for (size_t i = 0; i < k; ++i) {
    const int c = static_cast<int>(i) * cell + cell / 2;
    o << "<text x=\"" << left - 6 << "\" y=\"" << top + c + 4 << "\" text-anchor=\"end\">" << html_escape(m.labels[i])
      << "</text>";
    o << "<text transform=\"translate(" << left + c + 4 << "," << top + cell * static_cast<int>(k) + 8
      << ") rotate(-45)\" text-anchor=\"end\">" << html_escape(m.labels[i]) << "</text>\n";
  }
  o << "</g>\n";
  o << "<text x=\"" << left + cell * static_cast<int>(k) / 2 << "\" y=\"" << H - 6
    << "\" text-anchor=\"middle\" font-size=\"11\">predicted</text>\n";
  o << "<text transform=\"translate(12," << top + cell * static_cast<int>(k) / 2
    << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">true</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace qsenti::report
