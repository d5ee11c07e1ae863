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

Progress::Progress(int64_t total, int64_t first_step, ProgressOptions opt, std::FILE* out)
    : total_(total), step_(first_step), opt_(std::move(opt)), out_(out) {
  SSM_CHECK(total > 0, "progress: total must be > 0, got ", total);
  SSM_CHECK(first_step >= 0 && first_step <= total, "progress: first step ", first_step,
            " is outside [0, ", total, "]");
  SSM_CHECK(opt_.log_every > 0, "progress: log_every must be > 0, got ", opt_.log_every);
  SSM_CHECK(opt_.ema_alpha > 0 && opt_.ema_alpha <= 1, "progress: ema_alpha must be in (0, 1], got ",
            opt_.ema_alpha);
  if (!opt_.clock)
    opt_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  using Mode = ProgressOptions::Mode;
  terminal_ = opt_.mode == Mode::terminal || (opt_.mode == Mode::automatic && is_terminal(out_));
  start_time_ = last_time_ = now();
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

double Progress::eta_seconds() const {
  if (step_time_ < 0) return -1;
  return step_time_ * double(total_ - step_);
}

void Progress::update(int64_t step, int64_t tokens, std::optional<double> loss) {
  SSM_CHECK(step > step_ && step <= total_, "progress: step ", step, " must be in (", step_, ", ",
            total_, "]");
  double t = now();
  double dt = std::max(t - last_time_, 1e-9);
  double per_step = dt / double(step - step_);
  double a = opt_.ema_alpha;
  step_time_ = step_time_ < 0 ? per_step : a * per_step + (1 - a) * step_time_;
  if (tokens > 0) {
    double rate = double(tokens) / dt;
    tok_rate_ = tok_rate_ < 0 ? rate : a * rate + (1 - a) * tok_rate_;
  }
  if (loss) loss_ = loss;
  int64_t prev = step_;
  step_ = step;
  last_time_ = t;

  if (terminal_) {
    if (t - last_draw_ >= opt_.redraw_seconds || step == total_) draw();
  } else if (step / opt_.log_every != prev / opt_.log_every || step == total_) {
    write(log_line() + "\n");
    last_logged_ = step;
  }
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
  if (tok_rate_ >= 0) s += "  " + format_rate(tok_rate_) + " tok/s";
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
