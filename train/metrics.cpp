#include "train/metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace ssm::train {

namespace {

[[noreturn]] void fail_os(const std::string& what, const std::string& path) {
  SSM_FAIL("metrics: ", what, " '", path, "' failed: ", std::strerror(errno));
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void write_all(int fd, std::string_view s, const std::string& path) {
  while (!s.empty()) {
    ssize_t w = ::write(fd, s.data(), s.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail_os("write to", path);
    s.remove_prefix(size_t(w));
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_os("open", path);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  SSM_CHECK(!in.bad(), "metrics: read of '", path, "' failed");
  return bytes;
}

void fsync_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_os("open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail_os("fsync directory", dir);
}

// Writes `bytes` to `path` through a temp file, fsync and rename: a crash leaves the old file or
// the new one, never a mix.
void write_atomically(const std::string& path, std::string_view bytes) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail_os("create", tmp);
    try {
      write_all(fd, bytes, tmp);
      if (::fsync(fd) != 0) fail_os("fsync", tmp);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) fail_os("close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_os("rename of '" + tmp + "' to", path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(path);
}

struct Line {
  std::string_view text;
  nlohmann::json json;
};

// The non-empty lines of a metrics file, each parsed.
std::vector<Line> parse_lines(const std::string& bytes, const std::string& path) {
  std::vector<Line> lines;
  size_t line_no = 0, pos = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    std::string_view text(bytes.data() + pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (text.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    SSM_CHECK(j.is_object(), "metrics: ", path, ":", line_no, ": not a JSON object");
    lines.push_back({text, std::move(j)});
  }
  return lines;
}

bool is_reserved(std::string_view name) {
  return name == "step" || name == "epoch" || name == "split" || name == "time";
}

}  // namespace

MetricsLog::MetricsLog(std::string path, double elapsed_offset)
    : path_(std::move(path)), start_(steady_seconds()), elapsed_offset_(elapsed_offset) {
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    SSM_CHECK(!ec, "metrics: cannot create directory '", dir, "': ", ec.message());
  }
  open_for_append();
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::open_for_append() {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_os("open", path_);
  try {
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail_os("stat", path_);
    char last = '\n';
    if (st.st_size > 0 && ::pread(fd_, &last, 1, st.st_size - 1) != 1) fail_os("read", path_);
    if (last == '\n') return;
    // Cut a torn last line (a run killed mid-write) back to the last newline.
    std::string bytes = read_all(path_);
    size_t keep = bytes.rfind('\n');
    keep = keep == std::string::npos ? 0 : keep + 1;
    if (::ftruncate(fd_, off_t(keep)) != 0) fail_os("truncate", path_);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

double MetricsLog::elapsed() const { return steady_seconds() - start_ + elapsed_offset_; }

void MetricsLog::log(int64_t step, int64_t epoch, std::string_view split,
                     const std::vector<std::pair<std::string, double>>& fields) {
  nlohmann::ordered_json line;
  line["step"] = step;
  line["epoch"] = epoch;
  line["split"] = split;
  for (const auto& [name, value] : fields) {
    SSM_CHECK(!is_reserved(name), "metrics: field name '", name, "' is reserved (", path_, ")");
    SSM_CHECK(!line.contains(name), "metrics: field '", name, "' given twice (", path_, ")");
    if (std::isfinite(value))
      line[name] = value;
    else
      line[name] = nullptr;
  }
  line["time"] = std::round(elapsed() * 1000) / 1000;  // milliseconds are plenty
  // One write() per line: O_APPEND puts it whole at the end, and it is in the file at once.
  write_all(fd_, line.dump() + "\n", path_);
}

size_t MetricsLog::truncate_after(int64_t step) {
  std::string bytes = read_all(path_);
  std::string kept;
  size_t dropped = 0;
  for (const Line& line : parse_lines(bytes, path_)) {
    auto it = line.json.find("step");
    if (it != line.json.end() && it->is_number_integer() && it->get<int64_t>() > step) {
      ++dropped;
      continue;
    }
    kept.append(line.text);
    kept.push_back('\n');
  }
  if (dropped == 0) return 0;
  write_atomically(path_, kept);
  // Our descriptor still points at the file the rename replaced.
  ::close(fd_);
  fd_ = -1;
  open_for_append();
  return dropped;
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::string bytes = read_all(path);
  std::vector<nlohmann::json> out;
  for (Line& line : parse_lines(bytes, path)) out.push_back(std::move(line.json));
  return out;
}

}  // namespace ssm::train
