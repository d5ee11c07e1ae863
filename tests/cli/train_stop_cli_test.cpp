// Stopping `ssm train` and `ssm demo` as people do: Ctrl-C (SIGINT) and SIGTERM sent to the
// running binary, a second Ctrl-C, a kill; then --resume, the model directory left behind, and
// the progress lines written to a file. Each run is started from a temporary folder on a tiny
// model.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "support/cli.h"
#include "support/paths.h"
#include "support/run_logs.h"

extern char** environ;

namespace ssm::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSource = source_dir();
const std::string kConfig = kSource + "/configs/piglatin_small_mamba.yaml";

// The shipped Pig-Latin config on a one-layer, 16-wide model, logging every step.
std::string tiny_args() {
  return "-c " + quote(kConfig) + " --set dataset.path=" + quote(kSource + "/data") +
         " --set model.n_layer=1 --set model.d_model=16 --set training.log_every=1";
}

std::string ssm() { return quote(SSM_CLI_PATH); }

// A command run by /bin/sh in the background from `dir`, stdout and stderr into `log`. The shell
// execs it, so the pid is the command's own, and signals are the defaults whatever the test's.
class Background {
 public:
  Background(const std::string& dir, const std::string& cmd, const std::string& log) {
    std::string line = "cd " + quote(dir) + " && exec " + cmd + " >" + quote(log) + " 2>&1";
    const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t set;
    sigemptyset(&set);
    posix_spawnattr_setsigmask(&attr, &set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &set);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (posix_spawn(&pid_, "/bin/sh", nullptr, &attr, const_cast<char**>(argv), environ) != 0) pid_ = -1;
    posix_spawnattr_destroy(&attr);
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  bool started() const { return pid_ > 0; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The wait status once the command ends, within `seconds`; nullopt if it is still running then.
  std::optional<int> wait(double seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
};

// Polls `done` every 10 ms for up to `seconds`.
bool wait_for(const std::function<bool()>& done, double seconds = 60) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::string contents(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "";
  return read_file(path);
}

// Complete "train" lines in a metrics.jsonl that may be growing.
size_t train_lines(const std::string& metrics) {
  std::istringstream in(contents(metrics));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find("\"split\":\"train\"") != std::string::npos;
  return n;
}

std::string latest_checkpoint(const std::string& dir) {
  std::string name = contents(dir + "/checkpoints/latest");
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

// The steps in a checkpoint name, "step-00000012" -> 12.
int64_t step_of(const std::string& checkpoint) { return std::stoll(checkpoint.substr(5)); }

// The `ssm train ... --resume` line a stopped run printed, to run with the binary under test.
std::string printed_resume_command(const std::string& log) {
  const std::string key = "ssm: continue with: ssm ";
  size_t at = log.find(key);
  if (at == std::string::npos) return "";
  size_t end = log.find('\n', at);
  return ssm() + " " + log.substr(at + key.size(), end - at - key.size());
}

TEST(TrainStopCli, CtrlCWritesACheckpointAndSaysHowToContinue) {
  TempDir tmp("ssm_stop");
  const std::string dir = tmp.path() + "/run", log = tmp.path() + "/log";
  {
    Background train(tmp.path(), ssm() + " train " + tiny_args() + " -o run", log);
    ASSERT_TRUE(train.started());
    ASSERT_TRUE(wait_for([&] { return train_lines(dir + "/metrics.jsonl") >= 2; })) << contents(log);
    train.signal(SIGINT);
    std::optional<int> status = train.wait(60);
    ASSERT_TRUE(status) << "still running after Ctrl-C: " << contents(log);
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGINT)
        << "it ends by SIGINT (a shell says 130); status " << *status << "\n" << contents(log);
  }
  std::string out = contents(log);
  std::string checkpoint = latest_checkpoint(dir);
  ASSERT_FALSE(checkpoint.empty()) << out;
  int64_t k = step_of(checkpoint);
  EXPECT_NE(out.find("ssm: SIGINT: stopping after this step, once a checkpoint is written"), std::string::npos) << out;
  EXPECT_NE(out.find("ssm: stopped by SIGINT after step " + std::to_string(k) + "; checkpoint: run/checkpoints/" + checkpoint),
            std::string::npos) << out;
  std::string resume = printed_resume_command(out);
  ASSERT_NE(resume.find("-o run --resume"), std::string::npos) << out;
  // Before any evaluation the folder is still a model directory, with the weights of the step it
  // stopped at (HaltAfterLeavesALoadableModelDirectory runs eval and translate on one).
  EXPECT_NE(out.find("no evaluation yet: the model directory holds the weights of step " + std::to_string(k)),
            std::string::npos) << out;
  for (const char* file : {"config.json", "model.safetensors"}) EXPECT_TRUE(fs::exists(dir + "/" + file)) << file;

  // The printed command continues the run: two more steps, each logged once. (That the
  // continuation is bit-identical is checked in tests/train/trainer_test.cpp.)
  Cmd resumed = run("cd " + quote(tmp.path()) + " && " + resume + " --halt-after 2 2>&1");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resumed at step " + std::to_string(k)), std::string::npos) << resumed.out;
  std::string after = "step-" + std::string(8 - std::to_string(k + 2).size(), '0') + std::to_string(k + 2);
  EXPECT_EQ(latest_checkpoint(dir), after) << resumed.out;
  expect_each_step_logged_once(dir, k + 2);
}

TEST(TrainStopCli, SigtermStopsTheSameWayAndAShellSees143) {
  TempDir tmp("ssm_stop");
  const std::string dir = tmp.path() + "/run";
  // A script that runs ssm and reports its status as the shell sees it; SIGTERM goes to ssm.
  std::string script = ssm() + " train -q " + tiny_args() + " -o run >log 2>&1 & echo $! >pid; wait $!; echo $? >status";
  Background sh(tmp.path(), "/bin/sh -c " + quote(script), tmp.path() + "/sh.log");
  ASSERT_TRUE(sh.started());
  ASSERT_TRUE(wait_for([&] { return train_lines(dir + "/metrics.jsonl") >= 2; })) << contents(tmp.path() + "/log");
  pid_t pid = std::stoi(contents(tmp.path() + "/pid"));
  ::kill(pid, SIGTERM);
  ASSERT_TRUE(sh.wait(60)) << contents(tmp.path() + "/log");
  EXPECT_EQ(contents(tmp.path() + "/status"), "143\n");
  std::string out = contents(tmp.path() + "/log");
  std::string checkpoint = latest_checkpoint(dir);
  ASSERT_FALSE(checkpoint.empty()) << out;
  EXPECT_NE(out.find("ssm: SIGTERM: stopping after this step"), std::string::npos) << out;
  EXPECT_NE(out.find("ssm: stopped by SIGTERM after step " + std::to_string(step_of(checkpoint))), std::string::npos) << out;
  EXPECT_NE(out.find("ssm: continue with: ssm train -c "), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir + "/config.json") && fs::exists(dir + "/model.safetensors")) << out;
}

TEST(TrainStopCli, ASecondCtrlCStopsAtOnce) {
  TempDir tmp("ssm_stop");
  const std::string dir = tmp.path() + "/run", log = tmp.path() + "/log";
  // An evaluation of the whole validation set after step 2, before its checkpoint: the first
  // Ctrl-C comes during it, the second as soon as the first is acknowledged.
  Background train(tmp.path(), ssm() + " train " + tiny_args() + " --set training.eval_every=2 -o run", log);
  ASSERT_TRUE(train.started());
  ASSERT_TRUE(wait_for([&] { return train_lines(dir + "/metrics.jsonl") >= 2; })) << contents(log);
  train.signal(SIGINT);
  ASSERT_TRUE(wait_for([&] { return contents(log).find("ssm: SIGINT: stopping") != std::string::npos; }))
      << contents(log);
  train.signal(SIGINT);
  std::optional<int> status = train.wait(60);
  ASSERT_TRUE(status) << contents(log);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGINT) << "status " << *status;
  std::string out = contents(log);
  EXPECT_EQ(out.find("stopped by SIGINT after step"), std::string::npos) << "it did not wait for the step: " << out;
  EXPECT_FALSE(fs::exists(dir + "/checkpoints/latest")) << "the evaluation before the first checkpoint was cut short";
}

TEST(TrainStopCli, AResumeAfterAKillLogsEachStepOnce) {
  TempDir tmp("ssm_stop");
  const std::string dir = tmp.path() + "/run";
  {
    // Checkpoints every 3 steps; killed outright a few steps in, past its last checkpoint.
    Background train(tmp.path(), ssm() + " train -q " + tiny_args() + " --set training.checkpoint_every=3 -o run",
                     tmp.path() + "/log");
    ASSERT_TRUE(train.started());
    ASSERT_TRUE(wait_for([&] { return train_lines(dir + "/metrics.jsonl") >= 4; })) << contents(tmp.path() + "/log");
    train.signal(SIGKILL);
    ASSERT_TRUE(train.wait(60));
  }
  int64_t k = step_of(latest_checkpoint(dir));
  Cmd resumed = run("cd " + quote(tmp.path()) + " && " + ssm() + " train -q " + tiny_args() +
                    " --set training.checkpoint_every=3 -o run --resume --halt-after 1 2>&1");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  // What the killed run logged past step k is gone; steps 1 .. k + 1 are each there once.
  expect_each_step_logged_once(dir, k + 1);
}

TEST(TrainStopCli, HaltAfterLeavesALoadableModelDirectory) {
  TempDir tmp("ssm_stop");
  Cmd r = run("cd " + quote(tmp.path()) + " && " + ssm() + " train " + tiny_args() + " -o run --halt-after 2 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("ssm: halted after step 2; checkpoint: run/checkpoints/step-00000002"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ssm: continue with: ssm train -c "), std::string::npos) << r.out;
  for (const char* file : {"config.json", "model.safetensors"})
    EXPECT_TRUE(fs::exists(tmp.path() + "/run/" + file)) << file;
  Cmd eval = run("cd " + quote(tmp.path()) + " && " + ssm() + " eval -m run --max-batches 1 --json 2>&1");
  EXPECT_EQ(eval.status, 0) << eval.out;
  EXPECT_NE(eval.out.find("\"loss\":"), std::string::npos) << eval.out;
  Cmd translate = run(ssm() + " translate -m " + quote(tmp.path() + "/run") + " strength 2>&1");
  EXPECT_EQ(translate.status, 0) << translate.out;
}

TEST(TrainStopCli, DemoStopsOnCtrlCAndSaysHowToContinue) {
  TempDir tmp("ssm_stop");
  const std::string dir = tmp.path() + "/demo", log = tmp.path() + "/log";
  {
    Background demo(tmp.path(), ssm() + " demo " + tiny_args() + " -o demo", log);
    ASSERT_TRUE(demo.started());
    ASSERT_TRUE(wait_for([&] { return train_lines(dir + "/metrics.jsonl") >= 2; })) << contents(log);
    demo.signal(SIGINT);
    std::optional<int> status = demo.wait(60);
    ASSERT_TRUE(status) << contents(log);
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGINT) << "status " << *status;
  }
  std::string out = contents(log);
  EXPECT_NE(out.find("ssm: stopped by SIGINT after step"), std::string::npos) << out;
  std::string resume = printed_resume_command(out);
  EXPECT_NE(resume.find("--set training.epochs=40 -o demo --resume"), std::string::npos) << out;
  Cmd resumed = run("cd " + quote(tmp.path()) + " && " + resume + " -q --halt-after 1 2>&1");
  EXPECT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("(resumed)"), std::string::npos) << resumed.out;
}

TEST(TrainStopCli, ProgressOffATerminalIsAFewPlainLinesShowingTheLoggedLoss) {
  TempDir tmp("ssm_stop");
  // popen's pipe is not a terminal. 12 steps, logged every 3.
  Cmd r = run("cd " + quote(tmp.path()) + " && " + ssm() + " train " + tiny_args() +
              " --set training.max_steps=12 --set training.log_every=3 --set training.eval_batches=1 -o run 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  std::istringstream in(r.out);
  std::vector<std::string> progress;
  for (std::string line; std::getline(in, line);)
    if (line.find("/12 steps") != std::string::npos) progress.push_back(line);
  // A line every 20 s or so and one at the end: not one per logged step.
  ASSERT_GE(progress.size(), 1u) << r.out;
  EXPECT_LE(progress.size(), 3u) << r.out;
  EXPECT_EQ(progress.back().rfind("12/12 steps  100%  elapsed ", 0), 0u) << progress.back();
  // The loss on screen is the one logged for that step.
  nlohmann::json last;
  for (const nlohmann::json& j : train::read_metrics(tmp.path() + "/run/metrics.jsonl"))
    if (j["split"] == "train") last = j;
  ASSERT_EQ(last["step"], 12);
  char shown[32];
  std::snprintf(shown, sizeof shown, "loss %.4f", last["loss"].get<double>());
  EXPECT_NE(progress.back().find(shown), std::string::npos) << progress.back() << " vs " << last.dump();
}

}  // namespace
}  // namespace ssm::testing
