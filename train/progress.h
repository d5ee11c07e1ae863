// Training progress on stderr. On a terminal, one line redrawn in place (at most ~10 times a second):
//   [=====>              ] 1234/5000 steps  25%  ETA 3m12s  12.3k tok/s  loss 0.4123
// Elsewhere (a log file, CI), a plain line every `log_every` steps and at the last one:
//   1234/5000 steps  25%  elapsed 1m04s  ETA 3m12s  12.3k tok/s  loss 0.4123
// ETA and throughput come from exponential moving averages of the time per step and of tokens/s.
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

struct ProgressOptions {
  enum class Mode { automatic, terminal, plain };
  Mode mode = Mode::automatic;  // automatic: terminal iff the stream is a tty and TERM is not "dumb"
  std::string unit = "steps";
  int bar_width = 20;
  int64_t log_every = 100;       // plain mode: a line every this many steps
  double redraw_seconds = 0.1;   // terminal mode: the least time between two redraws
  double ema_alpha = 0.1;        // weight of the newest step in the moving averages
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
  // update; `loss` is shown when given.
  void update(int64_t step, int64_t tokens = 0, std::optional<double> loss = std::nullopt);
  // Leaves the time since the last update (an evaluation, a checkpoint save) out of the next step's
  // time, so the ETA and tokens/s describe training steps only.
  void reset_step_timer() { last_time_ = now(); }
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
  double last_time_;       // clock at the previous update
  double last_draw_ = -1e300;
  double step_time_ = -1;  // EMA of seconds per step; < 0 until the first update
  double tok_rate_ = -1;   // EMA of tokens per second; < 0 until tokens are reported
  std::optional<double> loss_;
};

}  // namespace ssm::train
