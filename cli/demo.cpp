// ssm demo: a small model learns a random Markov chain on the CPU; the loss is printed against
// the chain's exact entropy rate, the floor no model can beat.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "core/autograd.h"
#include "core/parallel.h"
#include "data/markov.h"
#include "models/mlp_lm.h"
#include "ops/cross_entropy.h"
#include "train/adamw.h"

namespace ssm::cli {

namespace {

struct DemoArgs {
  int64_t steps = 0;       // 0: run until the time budget
  double seconds = 60;
  int64_t batch = 512;
  double lr = 3e-3;
  uint64_t seed = 0;
  int vocab = 16;
  int64_t log_every = 100;
};

double evaluate(const models::MlpLM& model, const Tensor& ctx, const Tensor& next) {
  NoGradGuard ng;
  return cross_entropy(model.forward(ctx), next).item<double>();
}

void run_demo(const DemoArgs& a) {
  SSM_CHECK(a.batch > 0, "demo: --batch must be > 0");
  SSM_CHECK(a.steps > 0 || a.seconds > 0, "demo: give --steps or --seconds");
  data::MarkovSource source(a.vocab, 2, a.seed + 1);
  Generator data_gen(a.seed + 2), val_gen(a.seed + 3), init_gen(a.seed + 4);
  Tensor val_ctx, val_next;
  data::MarkovSource val_source(a.vocab, 2, a.seed + 1);
  val_source.sample(8192, val_gen, val_ctx, val_next);
  double floor = source.entropy_rate();

  models::MlpLM model(models::MlpLMConfig{.vocab = a.vocab}, init_gen);
  std::vector<Tensor> decay, no_decay;
  for (auto& [name, p] : model.named_parameters())
    (p.dim() >= 2 && name.find("norm") == std::string::npos ? decay : no_decay).push_back(p);
  train::AdamW opt({{decay, 0.01, 1.0, "decay"}, {no_decay, 0.0, 1.0, "no_decay"}},
                   {.lr = a.lr});

  std::printf("ssm demo: learning a random order-2 Markov chain over %d symbols\n", a.vocab);
  std::printf("  the chain's entropy rate, the best loss any model can reach: %.4f nats/token\n",
              floor);
  std::printf("  model: %lld parameters; AdamW lr %g; batch %lld; %d threads; %s\n",
              (long long)model.num_parameters(), a.lr, (long long)a.batch, num_threads(),
              a.steps ? (std::to_string(a.steps) + " steps").c_str()
                      : ("budget " + std::to_string(int(a.seconds)) + " s").c_str());
  std::printf("%8s %10s %10s %10s %12s\n", "step", "train", "val", "val-floor", "tokens/s");
  double first_val = evaluate(model, val_ctx, val_next), last_val = first_val;
  std::printf("%8d %10s %10.4f %10.4f %12s\n", 0, "-", first_val, first_val - floor, "-");
  std::fflush(stdout);

  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double train_loss = 0;
  int64_t step = 0, since_log = 0;
  double log_time = 0;
  while ((a.steps == 0 || step < a.steps) && (a.steps > 0 || elapsed() < a.seconds)) {
    Tensor ctx, next;
    source.sample(a.batch, data_gen, ctx, next);
    Tensor loss = cross_entropy(model.forward(ctx), next);
    opt.zero_grad();
    loss.backward();
    opt.step();
    train_loss += loss.item<double>();
    ++step;
    ++since_log;
    if (step % a.log_every == 0) {
      last_val = evaluate(model, val_ctx, val_next);
      double now = elapsed();
      double tps = double(since_log * a.batch) / (now - log_time);
      std::printf("%8lld %10.4f %10.4f %10.4f %12.0f\n", (long long)step, train_loss / double(since_log),
                  last_val, last_val - floor, tps);
      std::fflush(stdout);
      train_loss = 0;
      since_log = 0;
      log_time = now;
    }
  }
  last_val = evaluate(model, val_ctx, val_next);
  std::printf("done: %lld steps in %.1f s; validation loss %.4f -> %.4f nats/token (floor %.4f)\n",
              (long long)step, elapsed(), first_val, last_val, floor);
  SSM_CHECK(last_val < first_val, "demo: the validation loss did not fall (", first_val, " -> ",
            last_val, ")");
}

}  // namespace

void add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Train a small model on the CPU and print its loss falling");
  auto a = std::make_shared<DemoArgs>();
  cmd->add_option("--steps", a->steps, "optimizer steps (0: run until --seconds)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seconds", a->seconds, "time budget when --steps is 0")->capture_default_str();
  cmd->add_option("--batch", a->batch, "examples per step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--lr", a->lr, "AdamW learning rate")->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed for the chain, the data and the weights")->capture_default_str();
  cmd->add_option("--vocab", a->vocab, "symbols in the chain")->capture_default_str()->check(CLI::Range(2, 512));
  cmd->add_option("--log-every", a->log_every, "steps between progress lines")->capture_default_str()->check(CLI::PositiveNumber);
  register_action(cmd, [a] { run_demo(*a); });
}

}  // namespace ssm::cli
