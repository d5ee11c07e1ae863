// What a training run logged, checked as a resumed run must leave it: every step once.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "train/metrics.h"
#include "train/tensorboard.h"

namespace ssm::testing {

// In the run folder `dir`: each (split, step) of metrics.jsonl and each (tag, step) of its
// TensorBoard files at most once, none past `last_step`, and the training loss of every step up
// to it in both (a run that logs every step). Reading the event files checks every record's CRCs.
inline void expect_each_step_logged_once(const std::string& dir, int64_t last_step) {
  std::set<std::pair<std::string, int64_t>> lines, points;
  for (const auto& j : train::read_metrics(dir + "/metrics.jsonl")) {
    std::pair<std::string, int64_t> key{j["split"], j["step"]};
    EXPECT_TRUE(lines.insert(key).second) << "metrics.jsonl: " << key.first << " step " << key.second << " twice";
    EXPECT_LE(key.second, last_step) << "metrics.jsonl, " << key.first;
  }
  for (const std::string& file : train::list_event_files(dir))
    for (const train::ScalarPoint& p : train::read_scalars(file)) {
      EXPECT_TRUE(points.insert({p.tag, p.step}).second) << file << ": " << p.tag << " step " << p.step << " twice";
      EXPECT_LE(p.step, last_step) << p.tag;
    }
  for (int64_t s = 1; s <= last_step; ++s) {
    EXPECT_TRUE(lines.count({"train", s})) << "metrics.jsonl lacks step " << s;
    EXPECT_TRUE(points.count({"train/loss", s})) << "TensorBoard lacks train/loss at step " << s;
  }
}

}  // namespace ssm::testing
