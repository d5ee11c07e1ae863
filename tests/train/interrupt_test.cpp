// SIGINT / SIGTERM during training: the first signal is recorded and the process goes on, a second
// ends it at once; the handlers in place before come back; an ignored signal stays ignored.
#include "train/interrupt.h"

#include <gtest/gtest.h>

#include <csignal>

#include "core/error.h"

namespace ssm::train {
namespace {

// The death tests fork: the child runs one thread, the statement, and touches no thread pool.
using InterruptTest = ::testing::Test;

volatile std::sig_atomic_t g_earlier_handler_calls = 0;
void earlier_handler(int) { g_earlier_handler_calls = g_earlier_handler_calls + 1; }

// Sets `sig`'s handler for the test's duration and puts the default back after.
class HandlerFor {
 public:
  HandlerFor(int sig, void (*handler)(int)) : sig_(sig) { std::signal(sig, handler); }
  ~HandlerFor() { std::signal(sig_, SIG_DFL); }

 private:
  int sig_;
};

TEST_F(InterruptTest, TheFirstSignalIsRecordedTheSecondStopsAtOnce) {
  EXPECT_EXIT(
      {
        InterruptHandler h;
        std::raise(SIGINT);
        if (h.received() != SIGINT) std::_Exit(3);  // not recorded
        std::raise(SIGINT);
        std::_Exit(4);  // the second did not stop the process
      },
      ::testing::KilledBySignal(SIGINT), "ssm: SIGINT: stopping after this step");
}

TEST_F(InterruptTest, ASigintAfterASigtermStopsAtOnceToo) {
  EXPECT_EXIT(
      {
        InterruptHandler h;
        std::raise(SIGTERM);
        if (h.received() != SIGTERM) std::_Exit(3);
        std::raise(SIGINT);
        std::_Exit(4);
      },
      ::testing::KilledBySignal(SIGINT), "ssm: SIGTERM: stopping after this step");
}

TEST_F(InterruptTest, ExitBySignalEndsTheProcessByThatSignal) {
  EXPECT_EXIT(exit_by_signal(SIGTERM), ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_EXIT(
      {
        InterruptHandler h;  // even with a handler in place
        exit_by_signal(SIGINT);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

TEST_F(InterruptTest, TheEarlierHandlersComeBack) {
  HandlerFor term(SIGTERM, earlier_handler);
  g_earlier_handler_calls = 0;
  {
    InterruptHandler h;
    EXPECT_EQ(h.received(), 0);
    std::raise(SIGTERM);
    EXPECT_EQ(h.received(), SIGTERM);
    EXPECT_EQ(g_earlier_handler_calls, 0) << "the training handler had it";
  }
  std::raise(SIGTERM);
  EXPECT_EQ(g_earlier_handler_calls, 1) << "the earlier handler is back";
  InterruptHandler again;
  EXPECT_EQ(again.received(), 0) << "a new handler starts with no signal";
}

TEST_F(InterruptTest, AnIgnoredSignalStaysIgnored) {
  HandlerFor sigint(SIGINT, SIG_IGN);  // as in a background job of a script
  {
    InterruptHandler h;
    std::raise(SIGINT);
    EXPECT_EQ(h.received(), 0);
  }
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGINT, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
}

TEST_F(InterruptTest, OneAtATime) {
  InterruptHandler h;
  EXPECT_THROW(InterruptHandler second, Error);
}

TEST(SignalName, Names) {
  EXPECT_STREQ(signal_name(SIGINT), "SIGINT");
  EXPECT_STREQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_STREQ(signal_name(SIGHUP), "a signal");
}

}  // namespace
}  // namespace ssm::train
