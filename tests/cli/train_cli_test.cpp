// `ssm train` as a user runs it: exit codes, the messages they read, and what is left on disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/cli.h"
#include "support/paths.h"

namespace ssm::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSource = source_dir();

// `ssm train` on the small Pig-Latin config, run from the source folder (its data path is
// relative), stderr folded into the output.
Cmd train(const std::string& args) {
  return run("cd " + quote(kSource) + " && " + quote(SSM_CLI_PATH) +
             " train -q -c configs/piglatin_small_mamba.yaml --set training.max_steps=2 " +
             "--set training.eval_batches=1 " + args + " 2>&1");
}

TEST(TrainCli, ResumeWithNothingToResumeIsAnErrorAndWritesNothing) {
  TempDir tmp("ssm_cli");
  std::string out = tmp.path() + "/run";
  Cmd r = train("--resume -o " + quote(out));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("holds no checkpoint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(out), std::string::npos) << "the message names the folder: " << r.out;
  EXPECT_FALSE(fs::exists(out)) << "a refused run leaves no folder behind";
}

TEST(TrainCli, ResumeContinuesAHaltedRun) {
  TempDir tmp("ssm_cli");
  std::string out = tmp.path() + "/run";
  Cmd first = train("--halt-after 1 -o " + quote(out));
  ASSERT_EQ(first.status, 0) << first.out;
  ASSERT_TRUE(fs::exists(out + "/checkpoints/latest")) << first.out;
  Cmd again = train("-o " + quote(out));
  EXPECT_EQ(again.status, 1) << "a second run into the folder needs --resume: " << again.out;
  EXPECT_NE(again.out.find("already holds a checkpoint"), std::string::npos) << again.out;
  Cmd resumed = train("--resume -o " + quote(out));
  EXPECT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("(resumed)"), std::string::npos) << resumed.out;
}

TEST(Cli, AnUnknownCommandIsNamedWithTheNearestOne) {
  Cmd r = run(quote(SSM_CLI_PATH) + " trian -c x.yaml 2>&1");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("unknown command 'trian'; did you mean 'train'?"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("generate"), std::string::npos) << "the commands are listed: " << r.out;
  Cmd none = run(quote(SSM_CLI_PATH) + " 2>&1");
  EXPECT_EQ(none.status, 2) << none.out;
  EXPECT_NE(none.out.find("a command is required: "), std::string::npos) << none.out;
  Cmd far = run(quote(SSM_CLI_PATH) + " zzzzzzzz 2>&1");
  EXPECT_EQ(far.status, 2) << far.out;
  EXPECT_EQ(far.out.find("did you mean"), std::string::npos) << "nothing is that close: " << far.out;
}

}  // namespace
}  // namespace ssm::testing
