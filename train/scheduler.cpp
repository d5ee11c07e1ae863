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
