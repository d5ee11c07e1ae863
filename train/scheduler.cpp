#include "train/scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ssm::train {

ScheduleKind parse_schedule(const std::string& s) {
  if (s == "constant") return ScheduleKind::constant;
  if (s == "linear") return ScheduleKind::linear;
  if (s == "cosine") return ScheduleKind::cosine;
  if (s == "reduce_on_plateau") return ScheduleKind::reduce_on_plateau;
  SSM_FAIL("scheduler '", s, "' is not one of constant, linear, cosine, reduce_on_plateau");
}

const char* schedule_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::linear: return "linear";
    case ScheduleKind::cosine: return "cosine";
    case ScheduleKind::reduce_on_plateau: return "reduce_on_plateau";
  }
  return "?";
}

const schema::Section<SchedulerConfig>& SchedulerConfig::section() {
  static const schema::Section<SchedulerConfig> s = [] {
    schema::Section<SchedulerConfig> s("scheduler");
    s.add_choice("name", &SchedulerConfig::name, {"constant", "linear", "cosine", "reduce_on_plateau"},
                 "learning-rate schedule after warmup: constant, linear or cosine decay to "
                 "min_lr_ratio * lr at the last step, reduce_on_plateau on the validation loss")
        .aliases = {"type"};
    s.add("warmup_steps", &SchedulerConfig::warmup_steps, schema::at_least(0),
          "linear warmup from 0 to lr over this many optimizer steps")
        .aliases = {"warmup", "num_warmup_steps"};
    s.add("min_lr_ratio", &SchedulerConfig::min_lr_ratio, schema::between(0, 1),
          "final (linear, cosine) or lowest (reduce_on_plateau) lr, as a share of lr")
        .only_when<SchedulerConfig>("name", "linear, cosine or reduce_on_plateau",
                                    [](const SchedulerConfig& c) { return c.name != ScheduleKind::constant; });
    auto plateau = [](const SchedulerConfig& c) { return c.name == ScheduleKind::reduce_on_plateau; };
    auto& factor = s.add("plateau_factor", &SchedulerConfig::plateau_factor, schema::open_between(0, 1),
                         "multiply lr by this when the validation loss stops improving");
    factor.only_when<SchedulerConfig>("name", "reduce_on_plateau", plateau);
    factor.aliases = {"factor"};
    auto& patience = s.add("plateau_patience", &SchedulerConfig::plateau_patience, schema::at_least(0),
                           "evaluations without improvement before lr is reduced");
    patience.only_when<SchedulerConfig>("name", "reduce_on_plateau", plateau);
    patience.aliases = {"patience"};
    auto& threshold = s.add("plateau_threshold", &SchedulerConfig::plateau_threshold, schema::at_least(0),
                            "relative improvement of the validation loss that counts as one");
    threshold.only_when<SchedulerConfig>("name", "reduce_on_plateau", plateau);
    threshold.aliases = {"threshold"};
    return s;
  }();
  return s;
}

ScheduleOptions SchedulerConfig::options(int64_t total_steps) const {
  return {.kind = name,
          .warmup_steps = warmup_steps,
          .total_steps = total_steps,
          .min_lr_ratio = min_lr_ratio,
          .factor = plateau_factor,
          .patience = plateau_patience,
          .threshold = plateau_threshold};
}

LrSchedule::LrSchedule(const ScheduleOptions& opt) : opt_(opt) {
  SSM_CHECK(opt.warmup_steps >= 0, "scheduler: warmup_steps must be >= 0");
  SSM_CHECK(opt.min_lr_ratio >= 0 && opt.min_lr_ratio <= 1, "scheduler: min_lr_ratio must be in [0, 1]");
  if (opt.kind == ScheduleKind::linear || opt.kind == ScheduleKind::cosine)
    SSM_CHECK(opt.total_steps > opt.warmup_steps, "scheduler ", schedule_name(opt.kind),
              ": needs total_steps (", opt.total_steps, ") > warmup_steps (", opt.warmup_steps, ")");
  if (opt.kind == ScheduleKind::reduce_on_plateau) {
    SSM_CHECK(opt.factor > 0 && opt.factor < 1, "scheduler: plateau factor must be in (0, 1)");
    SSM_CHECK(opt.patience >= 0, "scheduler: plateau patience must be >= 0");
  }
}

double LrSchedule::multiplier(int64_t step) const {
  if (step < opt_.warmup_steps) return double(step + 1) / double(opt_.warmup_steps);
  double lo = opt_.min_lr_ratio;
  switch (opt_.kind) {
    case ScheduleKind::constant: return 1.0;
    case ScheduleKind::reduce_on_plateau: return std::max(plateau_scale_, lo);
    case ScheduleKind::linear:
    case ScheduleKind::cosine: {
      double t = double(step - opt_.warmup_steps) / double(opt_.total_steps - opt_.warmup_steps);
      t = std::clamp(t, 0.0, 1.0);
      double shape = opt_.kind == ScheduleKind::linear ? 1.0 - t : 0.5 * (1.0 + std::cos(M_PI * t));
      return lo + (1.0 - lo) * shape;
    }
  }
  return 1.0;
}

bool LrSchedule::on_eval(double metric) {
  if (opt_.kind != ScheduleKind::reduce_on_plateau) return false;
  if (!has_best_ || metric < best_ * (1.0 - opt_.threshold)) {
    best_ = metric;
    has_best_ = true;
    bad_evals_ = 0;
    return false;
  }
  if (++bad_evals_ > opt_.patience) {
    plateau_scale_ *= opt_.factor;
    bad_evals_ = 0;
    return true;
  }
  return false;
}

nlohmann::json LrSchedule::state() const {
  return {{"plateau_scale", plateau_scale_}, {"best", best_}, {"has_best", has_best_},
          {"bad_evals", bad_evals_}};
}

void LrSchedule::load_state(const nlohmann::json& j) {
  plateau_scale_ = j.at("plateau_scale");
  best_ = j.at("best");
  has_best_ = j.at("has_best");
  bad_evals_ = j.at("bad_evals");
}

}  // namespace ssm::train
