// metrics.jsonl: one JSON object per line, one line per logged step and split,
//   {"step":1200,"epoch":3,"split":"train","loss":0.4123,"lr":0.0003,"time":81.52}
// "time" is seconds since the run started (continued across resumes through `elapsed_offset`).
// Each line reaches the file as soon as it is logged, so a killed run keeps everything it logged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ssm::train {

class MetricsLog {
 public:
  // Opens `path` for appending, creating it (and its directory) if missing; never truncates. A
  // torn last line left by a killed run (no trailing newline) is cut off so new lines start clean.
  // `elapsed_offset` is added to "time": a resumed run passes the time its checkpoint recorded.
  explicit MetricsLog(std::string path, double elapsed_offset = 0.0);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Appends one line. `fields` keep their order; a non-finite value is written as null (JSON has no
  // NaN). Field names "step", "epoch", "split" and "time" are reserved.
  void log(int64_t step, int64_t epoch, std::string_view split,
           const std::vector<std::pair<std::string, double>>& fields);

  // Drops every line whose "step" is greater than `step` (for a run resumed from that step, so its
  // steps are not logged twice), rewriting the file atomically: temp file, fsync, rename. Returns
  // the number of lines dropped.
  size_t truncate_after(int64_t step);

  // Seconds since this log was opened, plus elapsed_offset: the "time" the next line would get.
  double elapsed() const;
  const std::string& path() const { return path_; }

 private:
  void open_for_append();

  std::string path_;
  int fd_ = -1;
  double start_ = 0;  // steady-clock seconds at construction
  double elapsed_offset_ = 0;
};

// Every line of a metrics.jsonl file, parsed; throws ssm::Error naming the path and line number
// of a line that is not a JSON object.
std::vector<nlohmann::json> read_metrics(const std::string& path);

}  // namespace ssm::train
