#pragma once
// A progress line on stderr: done/total, percent, rate (and an optional second
// rate, such as tokens/s), elapsed time and ETA.
//  - on a terminal the line is redrawn in place with '\r', at most every
//    redraw_interval_s;
//  - otherwise (a log file, a pipe) a plain line is printed at most every
//    log_interval_s, so that logs of long jobs stay short;
//  - disabled, it prints nothing.
// finish() prints one summary line. advance() may be called from any thread.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

namespace qsenti {

struct ProgressOptions {
  std::string label;         // printed first, e.g. "epoch 1/3"
  std::string unit = "it";   // what advance(n) counts
  std::string extra_unit;    // what advance(n, extra) counts ("tok"); empty: not shown
  bool enabled = true;
  std::ostream* out = nullptr;  // default std::cerr
  std::optional<bool> terminal;  // default: whether stderr is a terminal (false for `out`)
  double redraw_interval_s = 0.2;
  double log_interval_s = 10.0;
  std::function<double()> clock;  // seconds; default a steady clock (tests inject one)
  // Where the count starts (a resumed run's steps already done): shown in
  // done/total, left out of the rate and the ETA.
  int64_t initial = 0;
  // Called each time a line is drawn; appended after the counts ("epoch 1/3
  // loss 0.42"). The caller may reset what it averages there.
  std::function<std::string()> detail;
};

class Progress {
 public:
  // total <= 0: unknown (no percent, no ETA).
  explicit Progress(int64_t total, ProgressOptions options = {});
  // Ends a half-drawn terminal line (without a summary) if finish() was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1, int64_t extra = 0);
  // Ends a half-drawn terminal line so that other output can follow; the
  // next advance() draws a fresh one at once.
  void break_line();
  // Prints the summary line ("<label>: 100 it in 0:12 (8.3 it/s)"); later
  // calls do nothing.
  void finish();

  int64_t done() const;
  // The line as it would be drawn now.
  std::string status_line() const;

 private:
  std::string line_locked(double now) const;
  void emit_locked(const std::string& line, bool final);

  mutable std::mutex mu_;
  int64_t total_;
  ProgressOptions opt_;
  std::ostream* out_;
  bool terminal_;
  double start_;
  int64_t done_ = 0;
  int64_t extra_ = 0;
  double last_emit_;
  size_t drawn_width_ = 0;  // terminal: length of the line on screen
  bool finished_ = false;
};

// "0:07", "12:05", "1:02:03"; "?" for negative or non-finite values.
std::string format_duration(double seconds);
// "3.25", "35.2", "812", "1.23k", "45.6M".
std::string format_rate(double per_second);

}  // namespace qsenti
