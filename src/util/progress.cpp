#include "util/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace qsenti {
namespace {

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[64];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

std::string format_rate(double v) {
  if (!std::isfinite(v) || v < 0) return "?";
  if (v < 10) return printf_string("%.2f", v);
  if (v < 100) return printf_string("%.1f", v);
  if (v < 1000) return printf_string("%.0f", v);
  if (v < 1e6) return printf_string("%.3gk", v / 1e3);
  if (v < 1e9) return printf_string("%.3gM", v / 1e6);
  return printf_string("%.3gG", v / 1e9);
}

Progress::Progress(int64_t total, ProgressOptions options)
    : total_(total), opt_(std::move(options)) {
  out_ = opt_.out ? opt_.out : &std::cerr;
  if (opt_.terminal) {
    terminal_ = *opt_.terminal;
  } else {
    terminal_ = opt_.out == nullptr && ::isatty(STDERR_FILENO) == 1;
  }
  if (!opt_.clock) opt_.clock = steady_seconds;
  start_ = opt_.clock();
  last_emit_ = start_;
  done_ = opt_.initial;
}

Progress::~Progress() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!finished_ && opt_.enabled && terminal_ && drawn_width_ > 0) {
    *out_ << "\n" << std::flush;
  }
}

int64_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

std::string Progress::status_line() const {
  std::lock_guard<std::mutex> lock(mu_);
  return line_locked(opt_.clock());
}

std::string Progress::line_locked(double now) const {
  const double elapsed = now - start_;
  std::string s = opt_.label.empty() ? "" : opt_.label + ": ";
  s += std::to_string(done_);
  if (total_ > 0) {
    s += "/" + std::to_string(total_) + " " + opt_.unit + " " +
         printf_string("%.0f", 100.0 * static_cast<double>(done_) / static_cast<double>(total_)) +
         "%";
  } else {
    s += " " + opt_.unit;
  }
  const int64_t here = done_ - opt_.initial;  // done by this process
  if (elapsed > 0 && here > 0) {
    s += " | " + format_rate(here / elapsed) + " " + opt_.unit + "/s";
    if (!opt_.extra_unit.empty()) {
      s += ", " + format_rate(extra_ / elapsed) + " " + opt_.extra_unit + "/s";
    }
  }
  s += " | elapsed " + format_duration(elapsed);
  if (total_ > 0 && here > 0 && done_ < total_ && elapsed > 0) {
    s += ", ETA " + format_duration((total_ - done_) * elapsed / here);
  }
  if (opt_.detail) s += " | " + opt_.detail();
  return s;
}

void Progress::emit_locked(const std::string& line, bool final) {
  if (terminal_) {
    std::string padded = line;
    if (padded.size() < drawn_width_) padded.append(drawn_width_ - padded.size(), ' ');
    *out_ << '\r' << padded;
    drawn_width_ = line.size();
    if (final) *out_ << '\n';
  } else {
    *out_ << line << '\n';
  }
  out_->flush();
}

void Progress::advance(int64_t n, int64_t extra) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  extra_ += extra;
  if (!opt_.enabled || finished_) return;
  const double now = opt_.clock();
  if (terminal_) {
    if (now - last_emit_ < opt_.redraw_interval_s && drawn_width_ > 0) return;
  } else {
    const bool at_end = total_ > 0 && done_ >= total_;  // finish() will summarise
    if (at_end || now - last_emit_ < opt_.log_interval_s) return;
  }
  last_emit_ = now;
  emit_locked(line_locked(now), false);
}

void Progress::break_line() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!opt_.enabled || !terminal_ || drawn_width_ == 0) return;
  *out_ << '\n' << std::flush;
  drawn_width_ = 0;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (!opt_.enabled) return;
  const double elapsed = opt_.clock() - start_;
  std::string s = opt_.label.empty() ? "" : opt_.label + ": ";
  s += std::to_string(done_ - opt_.initial) + " " + opt_.unit + " in " + format_duration(elapsed);
  if (elapsed > 0) {
    s += " (" + format_rate((done_ - opt_.initial) / elapsed) + " " + opt_.unit + "/s";
    if (!opt_.extra_unit.empty()) {
      s += ", " + format_rate(extra_ / elapsed) + " " + opt_.extra_unit + "/s";
    }
    s += ")";
  }
  emit_locked(s, true);
}

}  // namespace qsenti
