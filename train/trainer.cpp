#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "io/model_dir.h"
#include "ops/elementwise.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/loss_scaler.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/scheduler.h"
#include "train/tensorboard.h"

namespace ssm::train {

namespace fs = std::filesystem;

const char* metric_name(Metric m) { return m == Metric::val_loss ? "val_loss" : "val_accuracy"; }

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "?";
}

const schema::Section<TrainingConfig>& TrainingConfig::section() {
  using schema::at_least;
  static const schema::Section<TrainingConfig> s = [] {
    schema::Section<TrainingConfig> s("training");
    s.add("max_steps", &TrainingConfig::max_steps, at_least(0),
          "optimizer steps to train; 0: no step limit. Training stops at whichever of max_steps "
          "and epochs is reached first; at least one must be set")
        .aliases = {"steps", "total_steps"};
    s.add("epochs", &TrainingConfig::epochs, at_least(0),
          "passes over the training set; 0: no epoch limit")
        .aliases = {"num_epochs"};
    s.add("batch_size", &TrainingConfig::batch_size, at_least(1),
          "sequences per micro-batch (Pig Latin: at most this many words of one length)");
    s.add("grad_accum_steps", &TrainingConfig::grad_accum_steps, at_least(1),
          "micro-batches whose gradients are summed into one optimizer step")
        .aliases = {"gradient_accumulation_steps"};
    s.add("grad_clip", &TrainingConfig::grad_clip, at_least(0),
          "clip gradients to this global L2 norm; 0: no clipping")
        .aliases = {"max_grad_norm", "clip_grad_norm"};
    s.add("eval_every", &TrainingConfig::eval_every, at_least(0),
          "optimizer steps between evaluations; 0: at the end of every epoch")
        .aliases = {"eval_steps"};
    s.add("eval_batches", &TrainingConfig::eval_batches, at_least(0),
          "validation batches per evaluation; 0: the whole validation set");
    s.add("log_every", &TrainingConfig::log_every, at_least(1),
          "optimizer steps between logged training losses (metrics.jsonl, TensorBoard, the progress "
          "line), each the mean over those steps")
        .aliases = {"logging_steps"};
    s.add("checkpoint_every", &TrainingConfig::checkpoint_every, at_least(0),
          "optimizer steps between checkpoints; 0: at every evaluation")
        .aliases = {"save_steps"};
    s.add("early_stopping_patience", &TrainingConfig::early_stopping_patience, at_least(0),
          "stop after this many evaluations without improvement; 0: never")
        .aliases = {"patience"};
    s.add_choice("early_stopping_metric", &TrainingConfig::early_stopping_metric,
                 {"val_loss", "val_accuracy"},
                 "validation metric that picks the best model and drives early stopping; "
                 "val_accuracy only for data sets that report it (the Pig-Latin sets: whole-word "
                 "accuracy; the image sets: classification accuracy)");
    s.add("gradient_checkpointing", &TrainingConfig::gradient_checkpointing,
          "recompute each layer's activations in backward to save memory");
    s.add("threads", &TrainingConfig::threads, at_least(0),
          "CPU threads; 0: the command's (--threads N, else OMP_NUM_THREADS, else every core)");
    s.add_choice("precision", &TrainingConfig::precision, {"fp32", "bf16", "fp16"},
                 "compute precision; bf16 and fp16 need a CUDA device")
        .aliases = {"mixed_precision"};
    s.check([](const TrainingConfig& t, schema::Failures& f) {
      if (t.max_steps == 0 && t.epochs == 0)
        f.push_back({"max_steps", {"epochs"},
                     "training.max_steps and training.epochs are both 0 (no limit); set one of "
                     "them (training stops at whichever is reached first)"});
    });
    return s;
  }();
  return s;
}

namespace {

// Why a CUDA build trains on the CPU, when it does: said once at the start of every run.
std::string cpu_note() {
#ifdef SSM_WITH_CUDA
  if (!cuda_available()) return " (this build has CUDA, but no GPU is visible)";
#endif
  return "";
}

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(prec);
  os << v;
  return os.str();
}

// "val_loss 1.2345  val_accuracy 0.9000": the loss and the metrics the task shows.
std::string describe_metrics(const Metrics& m, const Task& task) {
  std::vector<std::string> keys = {"val_loss"};
  for (const std::string& k : task.shown_metrics()) keys.push_back(k);
  std::string s;
  for (const std::string& k : keys)
    if (auto it = m.find(k); it != m.end()) s += (s.empty() ? "" : "  ") + k + " " + fmt(it->second);
  return s;
}

// A resumed run's TensorBoard files lose the events past its checkpoint. A file that cannot be read
// is left as it is, with a warning: a damaged log is no reason to refuse to train.
void drop_events_after_checkpoint(const std::string& logdir, int64_t step) {
  for (const std::string& file : list_event_files(logdir)) {
    try {
      drop_events_after(file, step);
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: %s; the file is left as it is\n", e.what());
    }
  }
}

}  // namespace

TrainResult train(models::Model& model, const Task& task, const TrainerConfig& cfg,
                  const TrainOptions& opt) {
  check_device_usable(cfg.device, "train");
  SSM_CHECK(cfg.training.precision == Precision::fp32 || cfg.device.is_cuda(), "training.precision ",
            precision_name(cfg.training.precision), " needs a CUDA device; on the CPU use fp32");
  auto t_start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  };
  if (cfg.training.threads > 0) set_num_threads(int(cfg.training.threads));

  const std::string out_dir = cfg.output_dir;
  const std::string ckpt_dir = out_dir + "/checkpoints";
  check_output_dir(out_dir, opt.resume);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  SSM_CHECK(!ec, "cannot create output directory '", out_dir, "': ", ec.message());

  model.to(cfg.device);
  model.set_gradient_checkpointing(cfg.training.gradient_checkpointing);
  // bf16/fp16: float32 master weights, products in 16 bits (core/autocast.h), for the whole run.
  AutocastGuard autocast_guard(cfg.training.precision == Precision::bf16   ? std::optional(DType::bf16)
                               : cfg.training.precision == Precision::fp16 ? std::optional(DType::f16)
                                                                           : std::nullopt);
  LossScaler scaler(cfg.training.precision == Precision::fp16);

  const OptimizerConfig& oc = cfg.optimizer;
  AdamW optimizer(param_groups(model.named_parameters(), oc),
                  {.lr = oc.lr, .beta1 = oc.betas[0], .beta2 = oc.betas[1], .eps = oc.eps,
                   .weight_decay = oc.weight_decay});

  const int64_t per_epoch = task.batches_per_epoch();
  const int64_t accum = cfg.training.grad_accum_steps;
  int64_t total_steps = cfg.training.max_steps;
  if (cfg.training.epochs > 0) {
    int64_t by_epochs = cfg.training.epochs * per_epoch / accum;
    total_steps = total_steps > 0 ? std::min(total_steps, by_epochs) : by_epochs;
  }
  SSM_CHECK(total_steps > 0, "training: no steps to run (max_steps ", cfg.training.max_steps,
            ", epochs ", cfg.training.epochs, ", ", per_epoch, " batches per epoch)");
  const int64_t eval_every = cfg.training.eval_every > 0 ? cfg.training.eval_every
                                                         : std::max<int64_t>(1, per_epoch / accum);
  const int64_t ckpt_every = cfg.training.checkpoint_every > 0 ? cfg.training.checkpoint_every : eval_every;

  LrSchedule schedule(cfg.scheduler.options(total_steps));

  TrainerState state;
  TrainResult result;
  manual_seed(uint64_t(cfg.seed));
  if (opt.resume) {
    if (auto s = load_latest_checkpoint(ckpt_dir, model, optimizer)) {
      state = *s;
      schedule.load_state(state.schedule);
      default_generator().set_state({state.rng_seed, state.rng_offset});
      result.resumed = true;
    }
  }
  MetricsLog metrics(out_dir + "/metrics.jsonl", state.elapsed_seconds);
  // What the stopped run logged past its checkpoint is logged again from here: drop it, so that
  // no step appears twice and the curves do not double back.
  if (result.resumed) {
    metrics.truncate_after(state.step);
    drop_events_after_checkpoint(out_dir, state.step);
  }
  EventWriter events(out_dir);
  if (result.resumed) events.add_session_start(state.step + 1);
  ProgressOptions popt;
  if (!opt.progress) popt.mode = ProgressOptions::Mode::plain;
  std::unique_ptr<Progress> progress;
  auto say = [&](const std::string& msg) {
    if (!opt.progress) return;
    if (progress)
      progress->println(msg);
    else
      std::fprintf(stderr, "%s\n", msg.c_str());
  };
  say("ssm train: " + cfg.name + " -> " + out_dir);
  say("  " + task.describe());
  say("  model: " + model.summary() + "; " + std::to_string(model.num_parameters()) +
      " parameters; " +
      (cfg.device.is_cpu() ? std::to_string(num_threads()) + (num_threads() == 1 ? " CPU thread" : " CPU threads") +
                                 cpu_note()
                           : cfg.device.str() + ", " + precision_name(cfg.training.precision)));
  if (result.resumed) say("  resumed at step " + std::to_string(state.step));
  if (opt.progress) progress = std::make_unique<Progress>(total_steps, state.step, popt);

  auto save_model = [&] { io::save_model_dir(out_dir, model, &task.tokenizer()); };
  const bool maximize = cfg.training.early_stopping_metric == Metric::val_accuracy;
  const std::string metric_key = maximize ? "val_accuracy" : "val_loss";
  auto evaluate_and_maybe_save = [&]() -> bool {  // returns true to stop early
    Metrics m = task.evaluate(model, cfg.training.eval_batches);
    result.last = m;
    SSM_CHECK(m.count(metric_key), "training: the ", task.name(), " task does not report ", metric_key);
    std::vector<std::pair<std::string, double>> fields(m.begin(), m.end());
    fields.emplace_back("lr", optimizer.lr());
    metrics.log(state.step, state.epoch, "val", fields);
    for (auto& [k, v] : m) events.add_scalar("val/" + k.substr(4), v, state.step);
    double score = maximize ? -m[metric_key] : m[metric_key];
    bool improved = !state.has_best || score < state.best_metric;
    if (improved) {
      state.best_metric = score;
      state.has_best = true;
      state.evals_without_improvement = 0;
      result.best = m;
      save_model();
    } else {
      ++state.evals_without_improvement;
    }
    if (schedule.on_eval(m.at("val_loss")))
      say("  learning rate reduced to x" + fmt(schedule.multiplier(state.step), 6) + " of the base");
    say("step " + std::to_string(state.step) + "  " + describe_metrics(m, task) + (improved ? "  (best, saved)" : ""));
    int64_t patience = cfg.training.early_stopping_patience;
    return patience > 0 && state.evals_without_improvement >= patience;
  };

  auto checkpoint_now = [&] {
    GeneratorState g = default_generator().state();
    state.rng_seed = g.seed;
    state.rng_offset = g.offset;
    state.schedule = schedule.state();
    state.elapsed_seconds = metrics.elapsed();
    result.checkpoint = save_checkpoint(ckpt_dir, model, optimizer, state);
  };

  int64_t steps_this_run = 0;
  double window_loss = 0;
  int64_t window_steps = 0, window_tokens = 0;
  double window_start = elapsed();
  // The mean training loss of the steps since the last log: the one number that metrics.jsonl,
  // TensorBoard and the progress line show for this step.
  auto log_window = [&]() -> double {
    double now = elapsed();
    double loss = window_loss / double(window_steps);
    double tps = double(window_tokens) / std::max(now - window_start, 1e-9);
    metrics.log(state.step, state.epoch, "train",
                {{"loss", loss}, {"lr", optimizer.lr()}, {"tokens_per_second", tps},
                 {"tokens_seen", double(state.tokens_seen)}});
    events.add_scalar("train/loss", loss, state.step);
    events.add_scalar("train/lr", optimizer.lr(), state.step);
    events.add_scalar("train/tokens_per_second", tps, state.step);
    window_loss = 0;
    window_steps = window_tokens = 0;
    window_start = now;
    return loss;
  };

  std::optional<InterruptHandler> interrupts;
  if (opt.stop_on_signals) interrupts.emplace();
  while (state.step < total_steps) {
    double loss_sum = 0;
    int64_t tokens = 0;
    for (int64_t a = 0; a < accum; ++a) {
      models::Batch batch = task.train_batch(state.epoch, state.batch);
      if (++state.batch >= per_epoch) {
        state.batch = 0;
        ++state.epoch;
      }
      Tensor loss = model.loss(batch);
      double lv = loss.cpu().item<double>();
      SSM_CHECK(std::isfinite(lv), "training diverged: the loss is ", lv, " at step ", state.step,
                " (lower optimizer.lr or set training.grad_clip)");
      double loss_scale = scaler.scale() / double(accum);
      (loss_scale != 1.0 ? mul(loss, loss_scale) : loss).backward();
      loss_sum += lv;
      tokens += batch.ids.numel();
    }
    if (!scaler.unscale(model.parameters())) {  // fp16 overflow: skip this step, scale halved
      optimizer.zero_grad();
      say("  fp16 gradient overflow at step " + std::to_string(state.step) + ": step skipped, loss scale now " +
          fmt(scaler.scale(), 0));
      continue;
    }
    if (cfg.training.grad_clip > 0) clip_grad_norm(model.parameters(), cfg.training.grad_clip);
    optimizer.set_lr(oc.lr * schedule.multiplier(state.step));
    optimizer.step();
    optimizer.zero_grad();
    ++state.step;
    ++steps_this_run;
    state.tokens_seen += tokens;
    double step_loss = loss_sum / double(accum);
    result.losses.emplace_back(state.step, step_loss);
    window_loss += step_loss;
    ++window_steps;
    window_tokens += tokens;
    // A step boundary: a signal that came during the step (or the evaluation before it) stops the
    // run here, as --halt-after does.
    const int signal = interrupts ? interrupts->received() : 0;
    const bool halt = state.step < total_steps &&
                      (signal != 0 || (opt.halt_after > 0 && steps_this_run >= opt.halt_after));
    std::optional<double> logged;
    if (state.step % cfg.training.log_every == 0 || state.step == total_steps || halt)
      logged = log_window();
    if (progress) progress->update(state.step, tokens, logged);
    bool stop = false;
    const bool eval_now = state.step % eval_every == 0 || state.step == total_steps;
    if (eval_now) stop = evaluate_and_maybe_save();
    const bool checkpoint = state.step % ckpt_every == 0 || state.step == total_steps || stop || halt;
    if (checkpoint) checkpoint_now();
    if (progress && (eval_now || checkpoint)) progress->end_pause();
    events.flush();
    if (stop) {
      result.early_stopped = true;
      say("early stopping: " + metric_key + " did not improve for " +
          std::to_string(cfg.training.early_stopping_patience) + " evaluations");
      break;
    }
    if (halt) {
      result.halted = true;
      result.signal = signal;
      // As a finished run's, the output directory must load (ssm eval, generate, translate).
      if (!state.has_best) save_model();
      break;
    }
  }
  if (progress) progress->finish();
  if (result.halted && !state.has_best)
    say("no evaluation yet: the model directory holds the weights of step " + std::to_string(state.step));
  result.steps = state.step;
  result.seconds = elapsed();
  if (result.best.empty() && state.has_best) result.best = result.last;
  return result;
}

}  // namespace ssm::train
