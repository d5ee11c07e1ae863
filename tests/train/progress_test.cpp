// Progress: the formatting helpers, and both output modes driven by a fake clock into a memory
// stream (no terminal needed).
#include "train/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace ssm::train {
namespace {

TEST(ProgressFormat, Durations) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(45), "45s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(192), "3m12s");
  EXPECT_EQ(format_duration(3599), "59m59s");
  EXPECT_EQ(format_duration(3600), "1h00m");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(86399), "23h59m");
  EXPECT_EQ(format_duration(86400 + 3 * 3600 + 59), "1d03h");
  EXPECT_EQ(format_duration(-1), "--");
  EXPECT_EQ(format_duration(std::nan("")), "--");
  EXPECT_EQ(format_duration(INFINITY), "--");
}

TEST(ProgressFormat, Rates) {
  EXPECT_EQ(format_rate(0), "0.0");
  EXPECT_EQ(format_rate(5.3), "5.3");
  EXPECT_EQ(format_rate(99.9), "99.9");
  EXPECT_EQ(format_rate(950), "950");
  EXPECT_EQ(format_rate(999.4), "999");
  EXPECT_EQ(format_rate(999.6), "1.0k");  // never "1000"
  EXPECT_EQ(format_rate(12345), "12.3k");
  EXPECT_EQ(format_rate(123456), "123k");
  EXPECT_EQ(format_rate(1.2e6), "1.2M");
  EXPECT_EQ(format_rate(3.4e9), "3.4G");
  EXPECT_EQ(format_rate(std::nan("")), "--");
}

TEST(ProgressFormat, Bar) {
  EXPECT_EQ(render_bar(0.25, 20), "[=====>              ]");
  EXPECT_EQ(render_bar(0, 4), "[>   ]");
  EXPECT_EQ(render_bar(1, 4), "[====]");
  EXPECT_EQ(render_bar(0.99, 4), "[===>]");
  EXPECT_EQ(render_bar(-3, 4), "[>   ]");
  EXPECT_EQ(render_bar(7, 4), "[====]");
  for (int w : {1, 5, 30})
    for (double f : {0.0, 0.1, 0.5, 0.999, 1.0}) EXPECT_EQ(render_bar(f, w).size(), size_t(w) + 2);
}

// Captures what a Progress prints; the clock is advanced by hand.
class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override { out_ = ::open_memstream(&buf_, &size_); }
  void TearDown() override {
    if (out_) std::fclose(out_);
    std::free(buf_);
  }

  ProgressOptions options(ProgressOptions::Mode mode) {
    ProgressOptions opt;
    opt.mode = mode;
    opt.clock = [this] { return t_; };
    return opt;
  }
  // Closes the stream and returns everything written.
  std::string output() {
    std::fclose(out_);
    out_ = nullptr;
    return std::string(buf_, size_);
  }
  static size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
  }

  double t_ = 1000;
  char* buf_ = nullptr;
  size_t size_ = 0;
  std::FILE* out_ = nullptr;
};

TEST_F(ProgressTest, PlainLinesEveryN) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  opt.log_every = 100;
  {
    Progress p(1000, 0, opt, out_);
    EXPECT_FALSE(p.terminal());
    for (int64_t s = 1; s <= 1000; ++s) {
      t_ += 0.5;
      p.update(s, 1000, 0.5);
      if (s == 100) {
        EXPECT_EQ(p.eta_seconds(), 450);  // 900 steps at 0.5 s
        EXPECT_EQ(p.log_line(), "100/1000 steps  10%  elapsed 50s  ETA 7m30s  2.0k tok/s  loss 0.5000");
      }
    }
    EXPECT_EQ(p.log_line(), "1000/1000 steps  100%  elapsed 8m20s  2.0k tok/s  loss 0.5000");
  }
  std::string out = output();
  EXPECT_EQ(count(out, "\n"), 10u) << out;  // steps 100, 200, ..., 1000; finish() adds nothing
  EXPECT_EQ(count(out, "\r"), 0u);
  EXPECT_EQ(count(out, "\x1b"), 0u);
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "100/1000 steps  10%  elapsed 50s  ETA 7m30s  2.0k tok/s  loss 0.5000");
}

TEST_F(ProgressTest, PlainFinishLogsAnUnloggedLastStep) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  opt.log_every = 100;
  {
    Progress p(1000, 0, opt, out_);
    t_ += 1;
    p.update(150);  // crosses 100: one line
    t_ += 1;
    p.update(170);
  }  // stopped early: the destructor logs step 170
  std::string out = output();
  EXPECT_EQ(count(out, "\n"), 2u) << out;
  EXPECT_NE(out.find("170/1000 steps  17%"), std::string::npos) << out;
  EXPECT_EQ(out.find("tok/s"), std::string::npos);  // no tokens reported, no rate shown
  EXPECT_EQ(out.find("loss"), std::string::npos);
}

TEST_F(ProgressTest, EtaFollowsAMovingAverage) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  opt.ema_alpha = 0.5;
  Progress p(100, 0, opt, out_);
  EXPECT_LT(p.eta_seconds(), 0);  // unknown before the first step
  EXPECT_NE(p.log_line().find("ETA --"), std::string::npos);
  t_ += 1;
  p.update(1);
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 99 * 1.0);
  t_ += 3;
  p.update(2);  // EMA: 0.5 * 3 + 0.5 * 1 = 2
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 98 * 2.0);
  t_ += 4;
  p.update(4);  // two steps in 4 s: 2 s each; EMA stays 2
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 96 * 2.0);
}

TEST_F(ProgressTest, ResetStepTimerLeavesPausesOut) {
  Progress p(100, 0, options(ProgressOptions::Mode::plain), out_);
  t_ += 1;
  p.update(1, 500);
  t_ += 60;  // an evaluation
  p.reset_step_timer();
  t_ += 1;
  p.update(2, 500);
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 98 * 1.0);
  EXPECT_NE(p.log_line().find("elapsed 1m02s"), std::string::npos) << p.log_line();  // wall time
  EXPECT_NE(p.log_line().find("  500 tok/s"), std::string::npos) << p.log_line();
}

TEST_F(ProgressTest, ResumedRunCountsFromItsFirstStep) {
  Progress p(5000, 1200, options(ProgressOptions::Mode::plain), out_);
  t_ += 2;
  p.update(1234, 34 * 1000, 0.4123);
  // 34 steps in 2 s: 1/17 s each, 3766 to go; 17k tokens/s.
  EXPECT_NEAR(p.eta_seconds(), 3766.0 / 17, 1e-9);
  EXPECT_EQ(p.bar_line(),
            "[====>               ] 1234/5000 steps  24%  ETA 3m42s  17.0k tok/s  loss 0.4123");
}

TEST_F(ProgressTest, TerminalRedrawsInPlaceAtMostTenTimesASecond) {
  {
    Progress p(1000, 0, options(ProgressOptions::Mode::terminal), out_);
    EXPECT_TRUE(p.terminal());
    for (int64_t s = 1; s <= 1000; ++s) {
      t_ += 0.01;  // 100 steps a second for 10 s
      p.update(s, 100, 1.0);
    }
  }
  std::string out = output();
  size_t draws = count(out, "\r[");
  EXPECT_GE(draws, 90u);   // ~10 a second for 10 s...
  EXPECT_LE(draws, 103u);  // ...and no more (plus the last step and finish())
  EXPECT_EQ(count(out, "\n"), 1u);  // only finish() ends the line
  EXPECT_EQ(out.back(), '\n');
  EXPECT_NE(out.find("\r[====================] 1000/1000 steps  100%  elapsed 10s"),
            std::string::npos);
}

TEST_F(ProgressTest, PrintlnClearsAndRedrawsTheBar) {
  {
    Progress p(10, 0, options(ProgressOptions::Mode::terminal), out_);
    t_ += 1;
    p.update(1, 0, 2.0);
    p.println("step 1: validation loss 1.9");
    t_ += 1;
    p.update(2, 0, 1.5);
  }
  std::string out = output();
  const std::string cleared = "\r\x1b[Kstep 1: validation loss 1.9\n";
  size_t msg = out.find(cleared);
  ASSERT_NE(msg, std::string::npos) << out;
  EXPECT_LT(out.find("\r[==>"), msg);  // the bar was on screen before...
  EXPECT_EQ(out.find("\r[==>", msg), msg + cleared.size());  // ...and is redrawn right after
}

TEST_F(ProgressTest, PlainPrintlnIsJustALine) {
  {
    Progress p(10, 0, options(ProgressOptions::Mode::plain), out_);
    p.println("hello");
  }
  EXPECT_EQ(output(), "hello\n");
}

TEST_F(ProgressTest, AutomaticModeIsPlainOffATerminal) {
  Progress p(10, 0, options(ProgressOptions::Mode::automatic), out_);
  EXPECT_FALSE(p.terminal());
}

TEST_F(ProgressTest, BadArgumentsAreErrors) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  EXPECT_THROW(Progress(0, 0, opt, out_), Error);
  EXPECT_THROW(Progress(10, 11, opt, out_), Error);
  Progress p(10, 5, opt, out_);
  EXPECT_THROW(p.update(5), Error);   // not after the previous step
  EXPECT_THROW(p.update(11), Error);  // past the total
}

}  // namespace
}  // namespace ssm::train
