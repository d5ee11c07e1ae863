// Training progress on stderr. On a terminal, one line redrawn in place (at most ~10 times a second):
//   [=====>              ] 1234/5000 steps  25%  ETA 3m12s  12.3k tok/s  loss 0.4123
// Elsewhere (a log file, CI, a pipe), plain lines without \r or escape codes, one every
// `line_seconds` or so and one at the last step:
//   1230/5000 steps  24%  elapsed 1m04s  ETA 3m12s  12.3k tok/s  loss 0.4123
// The loss shown is the one the trainer logged (metrics.jsonl, TensorBoard) at its latest log
// step, and plain lines are printed at log steps, so a line's loss is the logged one of its step.
// ETA and throughput come from RateEstimator.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace ssm::train {

// "45s", "3m12s", "1h02m", "2d03h"; "--" for a negative or non-finite duration.
std::string format_duration(double seconds);
// Three significant figures at most with a metric suffix: "950", "12.3k", "123k", "1.2M", "3.4G".
std::string format_rate(double per_second);
// "[=====>    ]" with `width` cells between the brackets; `fraction` is clamped to [0, 1].
std::string render_bar(double fraction, int width);

// Seconds per step and tokens per second over recent steps, for the ETA and the rate shown. Each
// is a ratio of two sums whose terms fade with a half-life counted in steps: the estimate follows
// the current speed rather than the first steps' one, a few batches of long sequences move it
// little, and the first steps are not pulled towards a starting value as a plain moving average's
// are. Time spent between steps (evaluations, checkpoints) recurs every so many steps: it is
// spread over the steps done up to the latest such pause and counted in the ETA, not in tok/s.
class RateEstimator {
 public:
  explicit RateEstimator(double half_life_steps = 50);

  // `steps` more steps took `seconds` and processed `tokens` (0: not reported).
  void add_steps(int64_t steps, double seconds, int64_t tokens = 0);
  // `seconds` just went to work between steps.
  void add_pause(double seconds);

  // Seconds per step, the pauses' share included; < 0 before the first step.
  double seconds_per_step() const;
  // Tokens per second of the steps alone; < 0 until tokens are reported.
  double tokens_per_second() const;
  // Seconds to do `remaining` more steps; < 0 while unknown.
  double eta(int64_t remaining) const;

 private:
  double keep_;  // the weight an older term keeps per newer step: 2^(-1 / half-life)
  double step_seconds_ = 0, step_count_ = 0;  // fading sums: seconds per step
  double tokens_ = 0, token_seconds_ = 0;     // fading sums: tokens per second
  int64_t steps_ = 0;                         // steps so far
  double pause_seconds_ = 0;                  // all pauses so far...
  int64_t steps_before_pause_ = 0;            // ...and the steps done before the latest one
};

struct ProgressOptions {
  enum class Mode { automatic, terminal, plain };
  Mode mode = Mode::automatic;  // automatic: terminal iff the stream is a tty and TERM is not "dumb"
  std::string unit = "steps";
  int bar_width = 20;
  double line_seconds = 20;      // plain mode: the least time between two lines
  double redraw_seconds = 0.1;   // terminal mode: the least time between two redraws
  double half_life_steps = 50;   // of the rate estimates (RateEstimator)
  std::function<double()> clock;  // seconds, monotonic; the steady clock when empty (tests inject one)
};

class Progress {
 public:
  // Steps run from `first_step` (the resumed step, 0 for a fresh run) to `total`.
  Progress(int64_t total, int64_t first_step = 0, ProgressOptions opt = {}, std::FILE* out = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Step `step` (absolute, > the previous one) is done; `tokens` were processed since the previous
  // update. `loss` is the training loss logged at this step, given at log steps only: it is shown
  // until the next one, and in plain mode a line is printed only at an update that carries one
  // (while none has been given, at any update), once `line_seconds` have passed since the last.
  void update(int64_t step, int64_t tokens = 0, std::optional<double> loss = std::nullopt);
  // The time since the last update went to work between steps (an evaluation, a checkpoint): it
  // is kept out of the step time and tok/s and spread over the steps in the ETA.
  void end_pause();
  // Prints `msg` on a line of its own: on a terminal the bar is cleared first and redrawn after.
  void println(const std::string& msg);
  // Draws the last state and ends the bar's line (called by the destructor too).
  void finish();

  // The two renderings of the current state, as update() prints them.
  std::string bar_line() const;
  std::string log_line() const;
  bool terminal() const { return terminal_; }
  // Estimated seconds to `total`; negative while no step time is known.
  double eta_seconds() const;

 private:
  double now() const;
  std::string stats() const;  // "ETA 3m12s  12.3k tok/s  loss 0.4123"
  void draw();
  void write(const std::string& s);

  int64_t total_;
  int64_t step_;
  ProgressOptions opt_;
  std::FILE* out_;
  bool terminal_ = false;
  bool drawn_ = false;     // the bar is on screen (terminal mode)
  bool finished_ = false;
  int64_t last_logged_;    // the step of the last plain line
  double start_time_;
  double last_time_;       // clock at the previous update (or the end of a pause)
  double last_line_;       // clock at the last plain line (the start before the first)
  double last_draw_ = -1e300;
  RateEstimator rate_;
  std::optional<double> loss_;
};

}  // namespace ssm::train
