// Progress: the formatting helpers, and both output modes driven by a fake clock into a memory
// stream (no terminal needed).
#include "train/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

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

TEST_F(ProgressTest, PlainLinesComeEveryFewSecondsAtLogSteps) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  opt.line_seconds = 20;
  {
    Progress p(1000, 0, opt, out_);
    EXPECT_FALSE(p.terminal());
    for (int64_t s = 1; s <= 1000; ++s) {
      t_ += 0.5;
      // The trainer logs every 10 steps and hands over the loss it logged.
      std::optional<double> logged;
      if (s % 10 == 0) logged = double(s) / 1000;
      p.update(s, 1000, logged);
      if (s == 40) {
        EXPECT_EQ(p.eta_seconds(), 480);  // 960 steps at 0.5 s
      }
    }
    EXPECT_EQ(p.log_line(), "1000/1000 steps  100%  elapsed 8m20s  2.0k tok/s  loss 1.0000");
  }
  std::string out = output();
  // 500 s of training: a line every 20 s (steps 40, 80, ..., 1000), not one every 10 steps.
  EXPECT_EQ(count(out, "\n"), 25u) << out;
  EXPECT_EQ(count(out, "\r"), 0u);
  EXPECT_EQ(count(out, "\x1b"), 0u);
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "40/1000 steps  4%  elapsed 20s  ETA 8m00s  2.0k tok/s  loss 0.0400");
  EXPECT_NE(out.find("\n80/1000 steps  8%  elapsed 40s  ETA 7m40s  2.0k tok/s  loss 0.0800\n"),
            std::string::npos) << out;
}

TEST_F(ProgressTest, APlainLineWaitsForALogStepSoItsLossIsThatStepsLoggedOne) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  opt.line_seconds = 20;
  {
    Progress p(100, 0, opt, out_);
    for (int64_t s = 1; s <= 50; ++s) {
      t_ += 1;
      std::optional<double> logged;
      if (s % 7 == 0) logged = double(s) / 100;
      p.update(s, 0, logged);
    }
  }  // stopped at step 50: finish() adds a line for it, with the last logged loss (step 49)
  std::string out = output();
  EXPECT_EQ(count(out, "\n"), 3u) << out;
  // Due at 20 s, printed at step 21 (the first log step after); due again at 41 s, printed at 42.
  EXPECT_EQ(out.find("21/100 steps  21%"), 0u) << out;
  EXPECT_NE(out.find("loss 0.2100\n42/100 steps  42%"), std::string::npos) << out;
  EXPECT_NE(out.find("loss 0.4200\n50/100 steps  50%"), std::string::npos) << out;
  EXPECT_NE(out.find("loss 0.4900\n"), std::string::npos) << out;
}

TEST_F(ProgressTest, PlainFinishLogsAnUnloggedLastStep) {
  ProgressOptions opt = options(ProgressOptions::Mode::plain);
  opt.line_seconds = 2;
  {
    Progress p(1000, 0, opt, out_);
    t_ += 2;
    p.update(150);  // due, and no loss is ever given: a line
    t_ += 1;
    p.update(170);  // not due
  }  // stopped early: the destructor logs step 170
  std::string out = output();
  EXPECT_EQ(count(out, "\n"), 2u) << out;
  EXPECT_EQ(out.find("150/1000 steps  15%"), 0u) << out;
  EXPECT_NE(out.find("\n170/1000 steps  17%"), std::string::npos) << out;
  EXPECT_EQ(out.find("tok/s"), std::string::npos);  // no tokens reported, no rate shown
  EXPECT_EQ(out.find("loss"), std::string::npos);
}

TEST_F(ProgressTest, EndPauseKeepsEvaluationsOutOfStepTimeButInTheEta) {
  Progress p(100, 0, options(ProgressOptions::Mode::plain), out_);
  t_ += 1;
  p.update(1, 500);
  t_ += 60;  // an evaluation
  p.end_pause();
  t_ += 1;
  p.update(2, 500);
  // 1 s a step, and a 60 s evaluation after every step seen so far.
  EXPECT_DOUBLE_EQ(p.eta_seconds(), 98 * 61.0);
  EXPECT_NE(p.log_line().find("elapsed 1m02s"), std::string::npos) << p.log_line();  // wall time
  EXPECT_NE(p.log_line().find("  500 tok/s"), std::string::npos) << p.log_line();
}

// ---- the rate behind the ETA, on synthetic step times --------------------------------------------

// Step times as a Pig-Latin run has them: each batch holds words of one length, so a step takes
// 0.05 to 0.25 s (mean 0.15) in an order that looks random. A fixed generator keeps it repeatable.
std::vector<double> noisy_step_times(size_t n) {
  std::vector<double> t(n);
  uint64_t x = 12345;
  for (double& v : t) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    v = 0.05 + 0.2 * double(x >> 11) / double(1ULL << 53);
  }
  return t;
}

TEST(RateEstimator, TheFirstStepIsTakenAsItIs) {
  RateEstimator r;
  EXPECT_LT(r.seconds_per_step(), 0);
  EXPECT_LT(r.eta(10), 0);
  EXPECT_LT(r.tokens_per_second(), 0);
  r.add_steps(1, 2.0, 300);
  EXPECT_DOUBLE_EQ(r.seconds_per_step(), 2.0);  // not pulled towards 0 as a plain EMA from 0 is
  EXPECT_DOUBLE_EQ(r.eta(10), 20.0);
  EXPECT_DOUBLE_EQ(r.tokens_per_second(), 150.0);
  r.add_steps(3, 6.0, 900);  // three steps at once: the same 2 s each
  EXPECT_DOUBLE_EQ(r.seconds_per_step(), 2.0);
  EXPECT_DOUBLE_EQ(r.eta(0), 0.0);
}

TEST(RateEstimator, FollowsTheCurrentSpeedNotTheFirstSteps) {
  // A slow start (allocation, a cold cache, another job finishing), then the real speed.
  RateEstimator r(50);
  for (int i = 0; i < 20; ++i) r.add_steps(1, 1.0);
  for (int i = 0; i < 400; ++i) r.add_steps(1, 0.1);
  EXPECT_NEAR(r.seconds_per_step(), 0.1, 0.0015);
  // Where the average over the whole run says 0.143 s: a 1.43x too long ETA.
  EXPECT_NEAR(r.eta(1000), 100, 1.5);
}

TEST(RateEstimator, NoisyStepsGiveASteadyEta) {
  RateEstimator r(50);
  std::vector<double> times = noisy_step_times(2000);
  double worst = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    r.add_steps(1, times[i]);
    if (i >= 100) worst = std::max(worst, std::fabs(r.seconds_per_step() / 0.15 - 1));
  }
  // Within 15% of the mean at every step after the first 100 (a moving average that weighs the
  // newest step by 0.1 strays by up to 32% on these times).
  EXPECT_LT(worst, 0.15);
}

TEST(RateEstimator, EvaluationsAreSpreadOverTheSteps) {
  // 1000 steps of 0.1 s with a 5 s evaluation after every 50th: 200 s in all, half of it
  // evaluating (an ETA from the step time alone would say half the time left).
  RateEstimator r(50);
  double spent = 0;
  for (int64_t s = 1; s <= 1000; ++s) {
    r.add_steps(1, 0.1);
    spent += 0.1;
    if (s % 50 == 0) {
      r.add_pause(5);
      spent += 5;
    }
    if (s == 75 || s == 500 || s == 725) {
      double left = 200 - spent;
      EXPECT_NEAR(r.eta(1000 - s), left, 0.05 * left) << "at step " << s;
    }
  }
  EXPECT_NEAR(r.seconds_per_step(), 0.2, 1e-9);
}

TEST(RateEstimator, TokensPerSecondLeavesPausesOut) {
  RateEstimator r;
  r.add_steps(1, 0.5, 1000);
  r.add_pause(30);
  r.add_steps(1, 0.5, 1000);
  EXPECT_DOUBLE_EQ(r.tokens_per_second(), 2000);
  EXPECT_DOUBLE_EQ(r.seconds_per_step(), 0.5 + 30);
}

TEST(RateEstimator, BadArgumentsAreErrors) {
  EXPECT_THROW(RateEstimator(0), Error);
  RateEstimator r;
  EXPECT_THROW(r.add_steps(0, 1.0), Error);
  EXPECT_THROW(r.add_steps(1, -1.0), Error);
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
