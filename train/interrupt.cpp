#include "train/interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace ssm::train {

namespace {

// What the handler may touch: lock-free atomics and plain flags set before it is installed.
std::atomic<int> g_received{0};
std::atomic<bool> g_installed{false};
bool g_stderr_tty = false;  // then the first message starts a new line, off the progress bar

constexpr char kIntMessage[] =
    "ssm: SIGINT: stopping after this step, once a checkpoint is written (Ctrl-C again stops at "
    "once)\n";
constexpr char kTermMessage[] =
    "ssm: SIGTERM: stopping after this step, once a checkpoint is written (a second signal stops "
    "at once)\n";

// write(2) is async-signal-safe; stdio is not.
void write_stderr(const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= size_t(w);
  }
}

void set_default_action(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
}

void on_signal(int sig) {
  int saved_errno = errno;
  int none = 0;
  if (g_received.compare_exchange_strong(none, sig)) {
    if (g_stderr_tty) write_stderr("\n", 1);
    if (sig == SIGINT)
      write_stderr(kIntMessage, sizeof kIntMessage - 1);
    else
      write_stderr(kTermMessage, sizeof kTermMessage - 1);
  } else {
    // The second signal: the default action, at once. `sig` is blocked while this handler runs,
    // so the raised one is delivered as it returns.
    set_default_action(sig);
    ::raise(sig);
  }
  errno = saved_errno;
}

bool ignored(const struct sigaction& sa) {
  return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
}

void install(int sig, struct sigaction* old) {
  SSM_CHECK(::sigaction(sig, nullptr, old) == 0, "cannot read the handler of ", signal_name(sig), ": ",
            std::strerror(errno));
  if (ignored(*old)) return;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // One handler runs at a time, so "the second signal" is well defined.
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  // Reads and writes in progress carry on rather than fail with EINTR.
  sa.sa_flags = SA_RESTART;
  SSM_CHECK(::sigaction(sig, &sa, nullptr) == 0, "cannot handle ", signal_name(sig), ": ",
            std::strerror(errno));
}

}  // namespace

InterruptHandler::InterruptHandler() {
  SSM_CHECK(!g_installed.exchange(true), "InterruptHandler: one is already installed");
  g_received = 0;
  g_stderr_tty = ::isatty(STDERR_FILENO);
  try {
    install(SIGINT, &old_int_);
    install(SIGTERM, &old_term_);
  } catch (...) {
    ::sigaction(SIGINT, &old_int_, nullptr);
    g_installed = false;
    throw;
  }
}

InterruptHandler::~InterruptHandler() {
  ::sigaction(SIGTERM, &old_term_, nullptr);
  ::sigaction(SIGINT, &old_int_, nullptr);
  g_installed = false;
}

int InterruptHandler::received() const { return g_received.load(); }

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

void exit_by_signal(int sig) {
  std::fflush(nullptr);
  set_default_action(sig);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  std::_Exit(128 + sig);  // only if the signal's default action does not end the process
}

}  // namespace ssm::train
