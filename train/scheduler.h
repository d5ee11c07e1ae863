// Learning-rate schedules, as multipliers of the base learning rate:
//   constant           1
//   linear             warmup, then linear decay to min_lr_ratio at total_steps
//   cosine             warmup, then half a cosine down to min_lr_ratio at total_steps
//   reduce_on_plateau  warmup, then 1, multiplied by `factor` whenever the watched metric has
//                      not improved (relatively, by more than `threshold`) for `patience`
//                      evaluations in a row; never below min_lr_ratio (torch's
//                      ReduceLROnPlateau, mode "min")
// Warmup is linear from 1/warmup_steps to 1 over the first warmup_steps steps.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/schema.h"

namespace ssm::train {

enum class ScheduleKind { constant, linear, cosine, reduce_on_plateau };
ScheduleKind parse_schedule(const std::string& s);
const char* schedule_name(ScheduleKind k);

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // needed by linear and cosine
  double min_lr_ratio = 0.0;
  double factor = 0.5;      // reduce_on_plateau
  int64_t patience = 3;
  double threshold = 1e-4;
};

// The scheduler section of a training config.
struct SchedulerConfig {
  ScheduleKind name = ScheduleKind::constant;
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;
  double plateau_factor = 0.1;
  int64_t plateau_patience = 10;
  double plateau_threshold = 1e-4;

  bool operator==(const SchedulerConfig&) const = default;
  static const schema::Section<SchedulerConfig>& section();
  // The schedule over `total_steps` optimizer steps.
  ScheduleOptions options(int64_t total_steps) const;
};

class LrSchedule {
 public:
  explicit LrSchedule(const ScheduleOptions& opt);
  // Multiplier for the update of step `step` (0-based).
  double multiplier(int64_t step) const;
  // Feeds an evaluation metric (lower is better); returns true when the rate was reduced.
  bool on_eval(double metric);

  nlohmann::json state() const;  // for checkpoints
  void load_state(const nlohmann::json& j);

 private:
  ScheduleOptions opt_;
  double plateau_scale_ = 1.0;
  double best_ = 0;
  bool has_best_ = false;
  int64_t bad_evals_ = 0;
};

}  // namespace ssm::train
