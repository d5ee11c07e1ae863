// ssm generate --model-dir D --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
//              [--top-p P] [--repetition-penalty R] [--seed S] [--device D] [--precision P]
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/autocast.h"
#include "core/error.h"
#include "infer/model_decoder.h"
#include "infer/sampling.h"
#include "io/model_dir.h"

namespace ssm::cli {

namespace {

// An SSM has no context limit; the bound keeps a slip of the finger (-n 100000000) from running
// for days.
constexpr int64_t kMaxNewTokens = 100000;

struct GenerateArgs {
  std::string model_dir, prompt, device = "auto", precision = "fp32";
  infer::SamplingOptions opt;
};

void run_generate(const GenerateArgs& a) {
  io::LoadedModel m = load_model_to_run(a.model_dir, "generate");
  need_next_token_model(m, "generate");
  const data::Tokenizer& tok = m.need_tokenizer("generate");
  SSM_CHECK(!a.prompt.empty(), "generate: --prompt must not be empty (the model needs a first token)");
  // Everything that can fail is checked before the prompt is echoed.
  Device device = resolve_device(a.device, "generate");
  AutocastGuard autocast_guard(parse_precision(a.precision, device, "generate"));
  const int64_t vocab = m.model->vocab_size();
  infer::SamplingOptions opt = a.opt;
  std::optional<int64_t> eos = tok.special_ids().eos;
  if (eos) opt.stop_tokens = {*eos};
  opt.validate(vocab);
  std::vector<int64_t> prompt = tok.encode(a.prompt);
  for (int64_t id : prompt)
    SSM_CHECK(id < vocab, "generate: the prompt's token ", id, " is outside the model's vocabulary of ",
              vocab, " tokens");
  m.model->to(device);
  infer::ModelDecoder dec(*m.model);
  std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
  std::fflush(stdout);
  infer::generate(dec, std::vector<std::vector<int64_t>>{prompt}, opt, [&](int64_t, int64_t token) {
    if (token == eos) return;  // the end, not text
    std::string piece = tok.decode(std::vector<int64_t>{token});
    std::fwrite(piece.data(), 1, piece.size(), stdout);  // streamed as it comes
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
}

}  // namespace

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt, streamed to the terminal");
  auto a = std::make_shared<GenerateArgs>();
  a->opt.temperature = 0.8;
  a->opt.max_new_tokens = 200;
  cmd->add_option("--model-dir,-m", a->model_dir, "model directory")->required();
  cmd->add_option("--prompt,-p", a->prompt, "text to continue")->required();
  cmd->add_option("--max-new-tokens,-n", a->opt.max_new_tokens,
                  "tokens to generate at most (fewer when the model writes its end-of-sequence token)")
      ->transform(in_range(1, kMaxNewTokens))
      ->capture_default_str();
  cmd->add_option("--temperature,-t", a->opt.temperature, "softmax temperature (0: greedy)")
      ->transform(number_at_least(0))
      ->capture_default_str();
  cmd->add_option("--top-k", a->opt.top_k, "keep the k most likely tokens (0: off)")
      ->transform(at_least(0))
      ->capture_default_str();
  cmd->add_option("--top-p", a->opt.top_p, "nucleus sampling: keep the most likely tokens up to this mass")
      ->transform(number_above(0, 1))
      ->capture_default_str();
  cmd->add_option("--repetition-penalty", a->opt.repetition_penalty, "> 1 discourages repeating earlier tokens")
      ->transform(number_above(0))
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "sampling seed (same seed, same text, on any machine)")
      ->transform(at_least(0))
      ->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, or bf16 / fp16 products on a GPU")->capture_default_str();
  register_action(cmd, [a] { run_generate(*a); });
}

}  // namespace ssm::cli
