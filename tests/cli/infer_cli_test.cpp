// `ssm generate` and `ssm translate` as users run them: where generation stops, what is printed
// before an error, and answers that arrive line by line through a pipe or at a terminal.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/file.h"
#include "data/tokenizer.h"
#include "support/cli.h"
#include "support/paths.h"
#include "support/tiny_model.h"

namespace ssm::testing {
namespace {

const std::string kSource = source_dir();

// A tiny model that writes `favourite` after any prompt: its mixer is silenced (out_proj = 0) and
// every embedding row is all ones except the row of `favourite`, all twos. The last hidden state
// is then rmsnorm(ones) = ones, so the tied head's logits are the row sums and greedy decoding
// picks `favourite`.
void save_model(const std::string& dir, const data::Tokenizer& tok, int64_t vocab,
                int64_t favourite) {
  save_tiny_model(dir, tok, vocab, [&](std::map<std::string, Tensor>& state) {
    const int64_t d = kTinyWidth;
    std::vector<float> emb(size_t(vocab * d), 1.0f);
    for (int64_t j = 0; j < d; ++j) emb[size_t(favourite * d + j)] = 2.0f;
    state["backbone.embeddings.weight"] = Tensor::from_vector(emb, {vocab, d});
    Tensor& out_proj = state["backbone.layers.0.mixer.out_proj.weight"];
    out_proj = Tensor::zeros(out_proj.shape());
  });
}

// A Pig-Latin style model dir (the character tokenizer) that writes `favourite` every step.
std::string char_model(const TempDir& tmp, int64_t favourite) {
  data::CharTokenizer tok;
  std::string dir = tmp.path() + "/model";
  save_model(dir, tok, tok.vocab_size(), favourite);
  return dir;
}

Cmd generate(const std::string& dir, const std::string& args) {
  return run(quote(SSM_CLI_PATH) + " generate -m " + quote(dir) + " " + args);
}

TEST(GenerateCli, StopsAtTheEndOfSequenceToken) {
  TempDir tmp("ssm_cli");
  data::CharTokenizer tok;
  std::string dir = char_model(tmp, tok.eos());
  Cmd r = generate(dir, "-p abc -t 0 -n 50");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "abc\n") << "the model's first token is <eos>: nothing follows the prompt";
}

TEST(GenerateCli, WritesMaxNewTokensWhenNoEndComes) {
  TempDir tmp("ssm_cli");
  data::CharTokenizer tok;
  std::string dir = char_model(tmp, tok.encode("x")[0]);
  // 010 is ten: whole numbers are read in decimal (CLI11 alone reads a leading 0 as octal).
  Cmd r = generate(dir, "-p abc -t 0 -n 010");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "abc" + std::string(10, 'x') + "\n");
}

TEST(GenerateCli, NothingIsPrintedBeforeAnError) {
  TempDir tmp("ssm_cli");
  std::string dir = char_model(tmp, 4);
  std::string err = tmp.path() + "/stderr";
  auto stdout_of = [&](const std::string& args, const std::string& message) {
    Cmd r = generate(dir, args + " 2>" + quote(err));
    std::string text = read_file(err);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.out, "") << args << ": the prompt is not echoed before the error " << text;
    EXPECT_NE(text.find(message), std::string::npos) << args << ": " << text;
  };
  stdout_of("-p abc --top-p 0", "--top-p: must be more than 0 and at most 1, got 0");
  // A byte tokenizer beside a 31-token model: 'a' is token 97.
  std::string bytes = tmp.path() + "/bytes";
  data::ByteTokenizer byte_tok;
  save_model(bytes, byte_tok, 31, 4);
  Cmd r = run(quote(SSM_CLI_PATH) + " generate -m " + quote(bytes) + " -p abc 2>" + quote(err));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(
      read_file(err).find("the prompt's token 97 is outside the model's vocabulary of 31 tokens"),
      std::string::npos)
      << read_file(err);
}

// `ssm train` on the small Pig-Latin config with a tiny model, run from the source folder.
Cmd train(const std::string& args) {
  return run("cd " + quote(kSource) + " && " + quote(SSM_CLI_PATH) +
             " train -q -c configs/piglatin_small_mamba.yaml --set training.max_steps=1 " +
             "--set training.eval_batches=1 --set model.n_layer=1 --set model.d_model=16 " + args +
             " 2>&1");
}

TEST(TrainCliSeed, AnAbsentSeedKeepsTheConfigsAndAGivenOneWins) {
  TempDir tmp("ssm_cli");
  Cmd kept = train("--set seed=9 -o " + quote(tmp.path() + "/kept"));
  ASSERT_EQ(kept.status, 0) << kept.out;
  EXPECT_NE(read_file(tmp.path() + "/kept/train_config.yaml").find("\nseed: 9\n"),
            std::string::npos);
  Cmd given = train("--set seed=9 --seed 0 -o " + quote(tmp.path() + "/given"));
  ASSERT_EQ(given.status, 0) << given.out;
  EXPECT_NE(read_file(tmp.path() + "/given/train_config.yaml").find("\nseed: 0\n"),
            std::string::npos);
}

// ---- a child whose input we type and whose output we read as it comes -------------------------

class Child {
 public:
  // stdin and stdout + stderr through pipes (terminal = false) or a pseudo-terminal.
  Child(const std::vector<std::string>& args, bool terminal) : terminal_(terminal) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that died early fails the test, not the test binary
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (terminal) {
      pid_ = ::forkpty(&in_, nullptr, nullptr, nullptr);
      out_ = in_;
      if (pid_ == 0) {
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      return;
    }
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Child() {
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0 && out_ != in_) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  void type(const std::string& text) { (void)!::write(in_, text.data(), text.size()); }
  // End of input: Ctrl-D at the start of a terminal's line, or the pipe closed.
  void end_input() {
    if (terminal_) {
      type("\x04");
    } else {
      ::close(in_);
      in_ = -1;
    }
  }
  // Reads until `want` appears in what was read since the last call, the output ends, or
  // `seconds` pass; returns what was read.
  std::string read_until(const std::string& want, double seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::string got;
    while (got.find(want) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;  // end of output (a pseudo-terminal says EIO)
      got.append(buf, size_t(n));
    }
    return got;
  }
  // The exit status; -1 when the child was killed or did not exit within `seconds`.
  int wait(double seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) return status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      ::usleep(20000);
    }
    return -1;
  }

 private:
  bool terminal_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  int status_ = -1;
};

TEST(TranslateCli, APipeIsAnsweredLineByLineWithoutAPrompt) {
  TempDir tmp("ssm_cli");
  data::CharTokenizer tok;
  std::string dir = char_model(tmp, tok.eos());
  Child c({SSM_CLI_PATH, "translate", "-m", dir}, /*terminal=*/false);
  ASSERT_TRUE(c.started());
  // Each answer arrives while the input is still open: the pipe streams.
  c.type("hello world\n");
  std::string first = c.read_until("world\t\n");
  EXPECT_EQ(first, "hello\t\nworld\t\n");
  c.type("strength\n");
  EXPECT_EQ(c.read_until("strength\t\n"), "strength\t\n");
  c.end_input();
  EXPECT_EQ(c.read_until("never printed"), "") << "no prompt, nothing more";
  EXPECT_EQ(c.wait(), 0);
}

TEST(TranslateCli, ATerminalGetsAPromptAndAnAnswerPerLine) {
  TempDir tmp("ssm_cli");
  data::CharTokenizer tok;
  std::string dir = char_model(tmp, tok.eos());
  Child c({SSM_CLI_PATH, "translate", "-m", dir}, /*terminal=*/true);
  ASSERT_TRUE(c.started());
  std::string intro = c.read_until("english> ");
  EXPECT_NE(intro.find("english> "), std::string::npos) << intro;
  c.type("hello world\n");
  std::string answer = c.read_until("english> ");  // the echo, the answers, the next prompt
  EXPECT_NE(answer.find("hello\t\r\nworld\t\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("english> "), std::string::npos) << answer;
  c.type("hel!o\n");  // a bad word is reported, and the session goes on
  std::string bad = c.read_until("english> ");
  EXPECT_NE(bad.find("ssm: error: "), std::string::npos) << bad;
  EXPECT_NE(bad.find("english> "), std::string::npos) << bad;
  c.end_input();
  EXPECT_EQ(c.wait(), 0);
}

}  // namespace
}  // namespace ssm::testing
