// The progress line, driven by a fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/progress.h"

using namespace qsenti;

namespace {

struct FakeClock {
  double t = 0;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

ProgressOptions options(std::ostringstream& out, FakeClock& clock, bool terminal) {
  ProgressOptions o;
  o.out = &out;
  o.terminal = terminal;
  o.clock = clock.fn();
  return o;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(Progress, Formatting) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(7.4), "0:07");
  EXPECT_EQ(format_duration(725), "12:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_rate(3.254), "3.25");
  EXPECT_EQ(format_rate(35.24), "35.2");
  EXPECT_EQ(format_rate(812.4), "812");
  EXPECT_EQ(format_rate(1234), "1.23k");
  EXPECT_EQ(format_rate(45.6e6), "45.6M");
}

TEST(Progress, StatusLineWithRatesAndEta) {
  std::ostringstream out;
  FakeClock clock;
  auto o = options(out, clock, false);
  o.label = "epoch 1/3";
  o.extra_unit = "tok";
  Progress p(100, o);
  clock.t = 10;
  p.advance(25, 1000);
  EXPECT_EQ(p.status_line(), "epoch 1/3: 25/100 it 25% | 2.50 it/s, 100 tok/s | elapsed 0:10, ETA 0:30");
  EXPECT_EQ(p.done(), 25);
}

// A resumed run: the count starts at its step, the rate and ETA count only
// this process's work; the caller's detail follows the counts.
TEST(Progress, ResumedCountAndDetail) {
  std::ostringstream out;
  FakeClock clock;
  auto o = options(out, clock, false);
  o.label = "train";
  o.unit = "steps";
  o.initial = 60;
  int calls = 0;
  o.detail = [&] { return "epoch 2/3 loss 0.5 call " + std::to_string(++calls); };
  Progress p(100, o);
  clock.t = 10;
  p.advance(20);  // 10 s: one plain line
  EXPECT_EQ(out.str(), "train: 80/100 steps 80% | 2.00 steps/s | elapsed 0:10, ETA 0:10 | epoch 2/3 loss 0.5 call 1\n");
  EXPECT_EQ(p.status_line(), "train: 80/100 steps 80% | 2.00 steps/s | elapsed 0:10, ETA 0:10 | epoch 2/3 loss 0.5 call 2");
  EXPECT_EQ(p.done(), 80);
}

// On a terminal, break_line() ends the drawn line once; the next advance
// draws at once.
TEST(Progress, BreakLineEndsTheTerminalLine) {
  std::ostringstream out;
  FakeClock clock;
  auto o = options(out, clock, true);
  Progress p(10, o);
  p.break_line();
  EXPECT_EQ(out.str(), "");  // nothing drawn yet
  clock.t = 1;
  p.advance(1);
  p.break_line();
  p.break_line();
  const std::string drawn = out.str();
  EXPECT_EQ(std::count(drawn.begin(), drawn.end(), '\n'), 1) << drawn;
  clock.t = 1.01;  // within the redraw interval, yet drawn: a fresh line
  p.advance(1);
  EXPECT_GT(out.str().size(), drawn.size());
}

TEST(Progress, UnknownTotalHasNoPercentOrEta) {
  std::ostringstream out;
  FakeClock clock;
  auto o = options(out, clock, false);
  o.unit = "rows";
  Progress p(0, o);
  clock.t = 10;
  p.advance(50);
  EXPECT_EQ(p.status_line(), "50 rows | 5.00 rows/s | elapsed 0:10");
}

TEST(Progress, PlainLinesAtMostEveryTenSeconds) {
  std::ostringstream out;
  FakeClock clock;
  auto o = options(out, clock, false);
  o.label = "train";
  Progress p(100, o);
  clock.t = 1;
  p.advance(5);
  clock.t = 2;
  p.advance(25);  // a quarter done, but a log gets no line before 10 s
  EXPECT_EQ(out.str(), "");
  clock.t = 10;
  p.advance(10);
  EXPECT_EQ(out.str(), "train: 40/100 it 40% | 4.00 it/s | elapsed 0:10, ETA 0:15\n");
  clock.t = 19.9;
  p.advance(20);
  EXPECT_EQ(lines_of(out.str()).size(), 1u);
  clock.t = 20.5;  // 10.5 s since the last line
  p.advance(1);
  EXPECT_EQ(lines_of(out.str()).size(), 2u);
  clock.t = 25;
  p.advance(39);  // the end: left to finish()
  EXPECT_EQ(lines_of(out.str()).size(), 2u);
  p.finish();
  p.finish();  // once only
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines.back(), "train: 100 it in 0:25 (4.00 it/s)");
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(Progress, TerminalRedrawsInPlaceAtMostFiveTimesASecond) {
  std::ostringstream out;
  FakeClock clock;
  auto o = options(out, clock, true);
  Progress p(1000, o);
  for (int i = 1; i <= 100; ++i) {  // 100 updates over one second
    clock.t = i * 0.01;
    p.advance(1);
  }
  const std::string s = out.str();
  const auto redraws = std::count(s.begin(), s.end(), '\r');
  EXPECT_GE(redraws, 5);
  EXPECT_LE(redraws, 6);
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_EQ(s.front(), '\r');
  // The summary replaces the bar, padded over its longer text, and ends the line.
  clock.t = 2;
  p.finish();
  const std::string all = out.str();
  const std::string tail = all.substr(s.size());
  ASSERT_EQ(tail.front(), '\r');
  EXPECT_EQ(tail.back(), '\n');
  const size_t last_bar = s.size() - s.rfind('\r') - 1;
  EXPECT_GE(tail.size() - 2, last_bar);
  EXPECT_EQ(tail.rfind("\r100 it in 0:02 (50.0 it/s)", 0), 0u) << tail;
}

TEST(Progress, TerminalLineIsEndedIfNotFinished) {
  std::ostringstream out;
  FakeClock clock;
  {
    Progress p(10, options(out, clock, true));
    clock.t = 1;
    p.advance(3);
  }
  const std::string s = out.str();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(s.find(" in "), std::string::npos);  // no summary
}

TEST(Progress, DisabledIsSilent) {
  for (bool terminal : {false, true}) {
    std::ostringstream out;
    FakeClock clock;
    auto o = options(out, clock, terminal);
    o.enabled = false;
    {
      Progress p(10, o);
      for (int i = 0; i < 10; ++i) {
        clock.t += 20;
        p.advance(1);
      }
      EXPECT_EQ(p.done(), 10);
      p.finish();
    }
    EXPECT_EQ(out.str(), "");
  }
}

TEST(Progress, AdvanceFromManyThreads) {
  std::ostringstream out;
  ProgressOptions o;
  o.out = &out;
  o.terminal = false;
  o.extra_unit = "tok";
  Progress p(40000, o);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&p] {
      for (int i = 0; i < 10000; ++i) p.advance(1, 2);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.done(), 40000);
  p.finish();
  // Well under 10 s: the summary alone.
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 1u) << out.str();
  EXPECT_EQ(lines.back().rfind("40000 it in ", 0), 0u) << lines.back();
}
