#include "train/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "core/error.h"

namespace ssm::train {

namespace {

std::string sprintf_string(const char* fmt, auto... args) {
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), fmt, args...);
  return std::string(buf, size_t(std::clamp(n, 0, int(sizeof(buf)) - 1)));
}

bool is_terminal(std::FILE* out) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
}

// Columns of the terminal behind `out`; 0 when unknown.
int terminal_columns(std::FILE* out) {
  struct winsize ws;
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  if (seconds >= 1e9) return ">30y";
  auto s = int64_t(std::llround(seconds));
  if (s < 60) return sprintf_string("%llds", (long long)s);
  if (s < 3600) return sprintf_string("%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  if (s < 86400)
    return sprintf_string("%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  return sprintf_string("%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

std::string format_rate(double per_second) {
  if (!std::isfinite(per_second)) return "--";
  static const char* kSuffix[] = {"", "k", "M", "G", "T", "P"};
  double v = per_second;
  int i = 0;
  // Move up a unit once the value would print as 1000 or more.
  while (std::fabs(v) >= 999.5 && i < 5) {
    v /= 1000;
    ++i;
  }
  const char* fmt = std::fabs(v) < 99.95 ? "%.1f%s" : "%.0f%s";
  return sprintf_string(fmt, v, kSuffix[i]);
}

std::string render_bar(double fraction, int width) {
  width = std::max(width, 1);
  double f = std::isfinite(fraction) ? std::clamp(fraction, 0.0, 1.0) : 0.0;
  int filled = std::min(width, int(f * width));
  std::string bar(size_t(width) + 2, ' ');
  bar.front() = '[';
  bar.back() = ']';
  for (int i = 0; i < filled; ++i) bar[size_t(i) + 1] = '=';
  if (filled < width) bar[size_t(filled) + 1] = '>';
  return bar;
}

RateEstimator::RateEstimator(double half_life_steps) {
  SSM_CHECK(half_life_steps > 0, "progress: the half-life must be > 0 steps, got ", half_life_steps);
  keep_ = std::exp2(-1.0 / half_life_steps);
}

void RateEstimator::add_steps(int64_t steps, double seconds, int64_t tokens) {
  SSM_CHECK(steps > 0 && seconds >= 0, "progress: ", steps, " steps in ", seconds, " s");
  double fade = std::pow(keep_, double(steps));
  step_seconds_ = step_seconds_ * fade + seconds;
  step_count_ = step_count_ * fade + double(steps);
  if (tokens > 0) {
    tokens_ = tokens_ * fade + double(tokens);
    token_seconds_ = token_seconds_ * fade + seconds;
  }
  steps_ += steps;
}

void RateEstimator::add_pause(double seconds) {
  pause_seconds_ += std::max(seconds, 0.0);
  steps_before_pause_ = steps_;
}

double RateEstimator::seconds_per_step() const {
  if (step_count_ <= 0) return -1;
  double pauses = steps_before_pause_ > 0 ? pause_seconds_ / double(steps_before_pause_) : 0;
  return step_seconds_ / step_count_ + pauses;
}

double RateEstimator::tokens_per_second() const {
  if (tokens_ <= 0) return -1;
  return tokens_ / std::max(token_seconds_, 1e-9);
}

double RateEstimator::eta(int64_t remaining) const {
  double per_step = seconds_per_step();
  return per_step < 0 ? -1 : per_step * double(std::max<int64_t>(remaining, 0));
}

Progress::Progress(int64_t total, int64_t first_step, ProgressOptions opt, std::FILE* out)
    : total_(total), step_(first_step), opt_(std::move(opt)), out_(out), rate_(opt_.half_life_steps) {
  SSM_CHECK(total > 0, "progress: total must be > 0, got ", total);
  SSM_CHECK(first_step >= 0 && first_step <= total, "progress: first step ", first_step,
            " is outside [0, ", total, "]");
  SSM_CHECK(opt_.line_seconds >= 0, "progress: line_seconds must be >= 0, got ", opt_.line_seconds);
  if (!opt_.clock)
    opt_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  using Mode = ProgressOptions::Mode;
  terminal_ = opt_.mode == Mode::terminal || (opt_.mode == Mode::automatic && is_terminal(out_));
  start_time_ = last_time_ = last_line_ = now();
  last_logged_ = first_step;
}

Progress::~Progress() {
  try {
    finish();
  } catch (const std::exception&) {
    // Nothing to report to: the stream itself failed.
  }
}

double Progress::now() const { return opt_.clock(); }

double Progress::eta_seconds() const { return rate_.eta(total_ - step_); }

void Progress::update(int64_t step, int64_t tokens, std::optional<double> loss) {
  SSM_CHECK(step > step_ && step <= total_, "progress: step ", step, " must be in (", step_, ", ",
            total_, "]");
  double t = now();
  rate_.add_steps(step - step_, std::max(t - last_time_, 0.0), tokens);
  bool had_loss = loss_.has_value();
  if (loss) loss_ = loss;
  step_ = step;
  last_time_ = t;

  if (terminal_) {
    if (t - last_draw_ >= opt_.redraw_seconds || step == total_) draw();
  } else if (step == total_ || (t - last_line_ >= opt_.line_seconds && (loss || !had_loss))) {
    write(log_line() + "\n");
    last_logged_ = step;
    last_line_ = t;
  }
}

void Progress::end_pause() {
  double t = now();
  rate_.add_pause(t - last_time_);
  last_time_ = t;
}

void Progress::println(const std::string& msg) {
  if (terminal_ && drawn_) {
    write("\r\x1b[K" + msg + "\n");
    drawn_ = false;
    if (!finished_) draw();
  } else {
    write(msg + "\n");
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    if (drawn_) {
      draw();
      write("\n");
      drawn_ = false;
    }
  } else if (step_ != last_logged_) {
    write(log_line() + "\n");
    last_logged_ = step_;
  }
}

std::string Progress::stats() const {
  std::string s;
  if (step_ >= total_)
    s = "elapsed " + format_duration(last_time_ - start_time_);
  else
    s = "ETA " + format_duration(eta_seconds());
  if (double r = rate_.tokens_per_second(); r >= 0) s += "  " + format_rate(r) + " tok/s";
  if (loss_) s += "  loss " + sprintf_string("%.4f", *loss_);
  return s;
}

std::string Progress::bar_line() const {
  double f = double(step_) / double(total_);
  return render_bar(f, opt_.bar_width) + " " + std::to_string(step_) + "/" + std::to_string(total_) +
         " " + opt_.unit + "  " + std::to_string(int(f * 100)) + "%  " + stats();
}

std::string Progress::log_line() const {
  double f = double(step_) / double(total_);
  std::string s = std::to_string(step_) + "/" + std::to_string(total_) + " " + opt_.unit + "  " +
                  std::to_string(int(f * 100)) + "%";
  if (step_ < total_) s += "  elapsed " + format_duration(last_time_ - start_time_);
  return s + "  " + stats();
}

void Progress::draw() {
  std::string line = bar_line();
  // A line wider than the terminal wraps, and \r would then redraw only its last row.
  int cols = terminal_columns(out_);
  if (cols > 1 && line.size() >= size_t(cols)) line.resize(size_t(cols - 1));
  write("\r" + line + "\x1b[K");
  drawn_ = true;
  last_draw_ = now();
}

void Progress::write(const std::string& s) {
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
}

}  // namespace ssm::train
