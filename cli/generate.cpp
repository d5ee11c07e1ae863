// ssm generate --model-dir D --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
//              [--top-p P] [--repetition-penalty R] [--seed S] [--device D] [--precision P]
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/autocast.h"
#include "core/error.h"
#include "infer/model_decoder.h"
#include "infer/sampling.h"
#include "io/model_dir.h"

namespace ssm::cli {

namespace {

struct GenerateArgs {
  std::string model_dir, prompt, device = "auto", precision = "fp32";
  infer::SamplingOptions opt;
};

void run_generate(const GenerateArgs& a) {
  io::LoadedModel m = io::load_model_dir(a.model_dir);
  m.model->to(resolve_device(a.device, "generate"));
  AutocastGuard autocast_guard(parse_precision(a.precision, m.model->device(), "generate"));
  m.need_tokenizer("generate");
  SSM_CHECK(!a.prompt.empty(), "generate: --prompt must not be empty (the model needs a first token)");
  std::vector<int64_t> prompt = m.tokenizer->encode(a.prompt);
  infer::ModelDecoder dec(*m.model);
  std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
  std::fflush(stdout);
  infer::generate(dec, std::vector<std::vector<int64_t>>{prompt}, a.opt, [&](int64_t, int64_t token) {
    std::string piece = m.tokenizer->decode(std::vector<int64_t>{token});
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
  cmd->add_option("--max-new-tokens,-n", a->opt.max_new_tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--temperature,-t", a->opt.temperature, "softmax temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", a->opt.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--top-p", a->opt.top_p, "nucleus sampling: keep the most likely tokens up to this mass")->capture_default_str();
  cmd->add_option("--repetition-penalty", a->opt.repetition_penalty, "> 1 discourages repeating earlier tokens")->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "sampling seed (same seed, same text, on any machine)")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, or bf16 / fp16 products on a GPU")->capture_default_str();
  register_action(cmd, [a] { run_generate(*a); });
}

}  // namespace ssm::cli
