// Ctrl-C (SIGINT) and SIGTERM during training. The first one asks the trainer to stop at the next
// step boundary, after writing a checkpoint, so nothing trained is lost; a second one (of either)
// ends the process at once, as the signal's default action would. The checkpoint is written
// atomically, so even that leaves the last good one intact.
//
// A stopped run then ends by the signal it received (exit_by_signal), as the conventions for
// SIGINT ask: the calling shell reports 130 (SIGINT) or 143 (SIGTERM) and a script looping over
// runs stops too, where an ordinary exit status would let it go on to the next run.
#pragma once

#include <csignal>

namespace ssm::train {

// Handles SIGINT and SIGTERM while it lives (sigaction; the handler only sets an atomic flag and
// writes one line to stderr), and puts the previous handlers back when destroyed. A signal that
// was ignored when it was made stays ignored: a background job of a script ignores Ctrl-C, and
// `nohup`-style launchers rely on that. One at a time per process.
class InterruptHandler {
 public:
  InterruptHandler();
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

  // The signal received (SIGINT or SIGTERM), 0 while none has come.
  int received() const;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// "SIGINT" or "SIGTERM"; "a signal" for any other.
const char* signal_name(int sig);

// Flushes stdio and ends the process by `sig` with its default action (terminate), so the parent
// sees a death by that signal; a shell reports 128 + sig.
[[noreturn]] void exit_by_signal(int sig);

}  // namespace ssm::train
