#include "train/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/error.h"
#include "core/file.h"

// Record lengths, doubles and floats are written as their little-endian bytes.
static_assert(std::endian::native == std::endian::little,
              "the TensorBoard writer assumes a little-endian host");

namespace ssm::train {

namespace {

// Field numbers, from TensorBoard's copies of TensorFlow's protos
// (tensorboard/compat/proto/event.proto, summary.proto, tensor.proto, types.proto):
//   Event       { double wall_time = 1; int64 step = 2;
//                 oneof what { string file_version = 3; Summary summary = 5;
//                              SessionLog session_log = 7; ... } }
//   SessionLog  { SessionStatus status = 1; }            START = 1
//   Summary     { repeated Value value = 1; }
//   Value       { string tag = 1; SummaryMetadata metadata = 9;
//                 oneof value { float simple_value = 2; TensorProto tensor = 8; ... } }
//   SummaryMetadata { PluginData plugin_data = 1; }  PluginData { string plugin_name = 1; }
//   TensorProto { DataType dtype = 1; TensorShapeProto tensor_shape = 2;
//                 repeated bytes string_val = 8; }      DT_STRING = 7
namespace field {
constexpr int kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5,
              kEventSessionLog = 7;
constexpr int kSessionLogStatus = 1;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1, kValueSimpleValue = 2, kValueTensor = 8, kValueMetadata = 9;
constexpr int kMetadataPluginData = 1, kPluginDataName = 1;
constexpr int kTensorDtype = 1, kTensorShape = 2, kTensorStringVal = 8;
}  // namespace field
constexpr uint64_t kSessionStart = 1;
constexpr uint64_t kDtString = 7;
constexpr const char* kFileVersion = "brain.Event:2";
// The text plugin finds its summaries by this plugin name (tensorboard/plugins/text/metadata.py).
constexpr const char* kTextPluginName = "text";

// Protobuf wire types.
enum Wire : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

// ---- protobuf encoding (proto3: zero scalars outside a oneof are left out) ----------------------

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void put_key(std::string& out, int number, Wire wire) { put_varint(out, uint64_t(number) << 3 | wire); }

template <class T>
void put_raw(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_bytes(std::string& out, int number, std::string_view bytes) {
  put_key(out, number, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// wall_time and step, the head every Event shares.
std::string event_head(double wall_time, int64_t step) {
  std::string e;
  if (wall_time != 0) {
    put_key(e, field::kEventWallTime, kFixed64);
    put_raw(e, wall_time);
  }
  if (step != 0) {
    put_key(e, field::kEventStep, kVarint);
    put_varint(e, uint64_t(step));  // negative int64s are ten-byte varints
  }
  return e;
}

std::string summary_event(double wall_time, int64_t step, const std::string& value) {
  std::string summary;
  put_bytes(summary, field::kSummaryValue, value);
  std::string e = event_head(wall_time, step);
  put_bytes(e, field::kEventSummary, summary);
  return e;
}

// ---- protobuf decoding --------------------------------------------------------------------------

struct Field {
  int number = 0;
  int wire = 0;
  uint64_t value = 0;      // varint, fixed64 and fixed32 payloads
  std::string_view bytes;  // length-delimited payload
};

// Walks the fields of one message; throws with `where` on malformed input.
class FieldReader {
 public:
  FieldReader(std::string_view data, const std::string& where) : data_(data), where_(where) {}

  bool next(Field& f) {
    if (pos_ == data_.size()) return false;
    uint64_t key = varint();
    f.number = int(key >> 3);
    f.wire = int(key & 7);
    SSM_CHECK(f.number > 0, where_, ": protobuf field number 0");
    switch (f.wire) {
      case kVarint: f.value = varint(); break;
      case kFixed64: f.value = fixed(8); break;
      case kFixed32: f.value = fixed(4); break;
      case kLengthDelimited: {
        uint64_t n = varint();
        SSM_CHECK(n <= data_.size() - pos_, where_, ": protobuf field ", f.number, " claims ", n,
                  " bytes but ", data_.size() - pos_, " remain");
        f.bytes = data_.substr(pos_, size_t(n));
        pos_ += size_t(n);
        break;
      }
      default: SSM_FAIL(where_, ": unsupported protobuf wire type ", f.wire, " (field ", f.number, ")");
    }
    return true;
  }

 private:
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      SSM_CHECK(pos_ < data_.size(), where_, ": protobuf varint runs past the end");
      uint8_t b = uint8_t(data_[pos_++]);
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    SSM_FAIL(where_, ": protobuf varint longer than 10 bytes");
  }

  uint64_t fixed(size_t n) {
    SSM_CHECK(n <= data_.size() - pos_, where_, ": protobuf fixed", 8 * n, " runs past the end");
    uint64_t v = 0;
    std::memcpy(&v, data_.data() + pos_, n);
    pos_ += n;
    return v;
  }

  std::string_view data_;
  const std::string& where_;
  size_t pos_ = 0;
};

SummaryValue decode_value(std::string_view data, const std::string& where) {
  SummaryValue v;
  Field f, g;
  FieldReader r(data, where);
  while (r.next(f)) {
    if (f.number == field::kValueTag && f.wire == kLengthDelimited) {
      v.tag = std::string(f.bytes);
    } else if (f.number == field::kValueSimpleValue && f.wire == kFixed32) {
      uint32_t bits = uint32_t(f.value);
      std::memcpy(&v.simple_value, &bits, 4);
      v.kind = SummaryValue::Kind::scalar;
    } else if (f.number == field::kValueTensor && f.wire == kLengthDelimited) {
      FieldReader t(f.bytes, where);
      while (t.next(g))
        if (g.number == field::kTensorStringVal && g.wire == kLengthDelimited &&
            v.kind != SummaryValue::Kind::text) {
          v.text = std::string(g.bytes);
          v.kind = SummaryValue::Kind::text;
        }
    }
  }
  return v;
}

Event decode_event(std::string_view data, const std::string& where) {
  Event e;
  Field f, g;
  FieldReader r(data, where);
  while (r.next(f)) {
    if (f.number == field::kEventWallTime && f.wire == kFixed64) {
      std::memcpy(&e.wall_time, &f.value, 8);
    } else if (f.number == field::kEventStep && f.wire == kVarint) {
      e.step = int64_t(f.value);
    } else if (f.number == field::kEventFileVersion && f.wire == kLengthDelimited) {
      e.file_version = std::string(f.bytes);
    } else if (f.number == field::kEventSessionLog && f.wire == kLengthDelimited) {
      FieldReader s(f.bytes, where);
      while (s.next(g))
        if (g.number == field::kSessionLogStatus && g.wire == kVarint)
          e.session_start = g.value == kSessionStart;
    } else if (f.number == field::kEventSummary && f.wire == kLengthDelimited) {
      FieldReader s(f.bytes, where);
      while (s.next(g))
        if (g.number == field::kSummaryValue && g.wire == kLengthDelimited)
          e.values.push_back(decode_value(g.bytes, where));
    }
  }
  return e;
}

[[noreturn]] void fail_os(const std::string& what, const std::string& path) {
  SSM_FAIL("tensorboard: ", what, " '", path, "' failed: ", std::strerror(errno));
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint32_t unmask_crc(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string encode_file_version_event(double wall_time) {
  std::string e = event_head(wall_time, 0);
  put_bytes(e, field::kEventFileVersion, kFileVersion);
  return e;
}

std::string encode_scalar_event(std::string_view tag, float value, int64_t step, double wall_time) {
  std::string v;
  put_bytes(v, field::kValueTag, tag);
  put_key(v, field::kValueSimpleValue, kFixed32);  // in a oneof: written even when 0
  put_raw(v, value);
  return summary_event(wall_time, step, v);
}

// As tensorboard.summary.text_pb writes it: a scalar DT_STRING tensor tagged for the text plugin.
std::string encode_text_event(std::string_view tag, std::string_view text, int64_t step,
                              double wall_time) {
  std::string plugin_data, metadata, tensor, v;
  put_bytes(plugin_data, field::kPluginDataName, kTextPluginName);
  put_bytes(metadata, field::kMetadataPluginData, plugin_data);
  put_key(tensor, field::kTensorDtype, kVarint);
  put_varint(tensor, kDtString);
  put_bytes(tensor, field::kTensorShape, "");  // rank 0
  put_bytes(tensor, field::kTensorStringVal, text);
  put_bytes(v, field::kValueTag, tag);
  put_bytes(v, field::kValueTensor, tensor);
  put_bytes(v, field::kValueMetadata, metadata);
  return summary_event(wall_time, step, v);
}

std::string encode_session_start_event(int64_t step, double wall_time) {
  std::string log;
  put_key(log, field::kSessionLogStatus, kVarint);
  put_varint(log, kSessionStart);
  std::string e = event_head(wall_time, step);
  put_bytes(e, field::kEventSessionLog, log);
  return e;
}

std::string frame_record(std::string_view data) {
  std::string r;
  r.reserve(data.size() + 16);
  uint64_t n = data.size();
  put_raw(r, n);
  put_raw(r, mask_crc(crc32c(&n, 8)));
  r.append(data);
  put_raw(r, mask_crc(crc32c(data.data(), data.size())));
  return r;
}

// ---- EventWriter --------------------------------------------------------------------------------

EventWriter::EventWriter(const std::string& logdir) {
  std::error_code ec;
  std::filesystem::create_directories(logdir, ec);
  SSM_CHECK(!ec, "tensorboard: cannot create log directory '", logdir, "': ", ec.message());
  std::string base = (std::filesystem::path(logdir) /
                      ("events.out.tfevents." + std::to_string(std::time(nullptr)) + "." + hostname()))
                         .string();
  // O_EXCL: two writers started in the same second (a quick resume) must not share a file.
  for (int i = 0; fd_ < 0; ++i) {
    path_ = i == 0 ? base : base + "." + std::to_string(i);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || i == 1000)) fail_os("create event file", path_);
  }
  try {
    append(encode_file_version_event(unix_time_now()));
    flush();  // TensorBoard sees the run as soon as it starts
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

EventWriter::~EventWriter() {
  try {
    flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: %s\n", e.what());
  }
  ::close(fd_);
}

void EventWriter::add_scalar(std::string_view tag, double value, int64_t step, double wall_time) {
  append(encode_scalar_event(tag, float(value), step, wall_time));
}

void EventWriter::add_text(std::string_view tag, std::string_view text, int64_t step,
                           double wall_time) {
  append(encode_text_event(tag, text, step, wall_time));
}

void EventWriter::add_session_start(int64_t step, double wall_time) {
  append(encode_session_start_event(step, wall_time));
}

void EventWriter::append(const std::string& event) {
  double now = steady_seconds();
  if (buffer_.empty()) oldest_buffered_ = now;
  buffer_ += frame_record(event);
  if (now - oldest_buffered_ >= kFlushSeconds) flush();
}

void EventWriter::flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t w = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int err = errno;
      buffer_.erase(0, done);  // a retry must not write the same bytes twice
      errno = err;
      fail_os("write to", path_);
    }
    done += size_t(w);
  }
  buffer_.clear();
}

// ---- reading ------------------------------------------------------------------------------------

namespace {

// One complete record of an event file: its TFRecord frame and the event it holds.
struct Record {
  std::string_view frame;
  Event event;
};

// The complete records of `bytes` (the contents of `path`), both CRCs of each checked; a record
// cut short at the end is left out.
std::vector<Record> parse_records(const std::string& bytes, const std::string& path) {
  std::vector<Record> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    std::string where = "tensorboard: '" + path + "' record at byte " + std::to_string(pos);
    if (bytes.size() - pos < 12) break;  // torn header at the end
    uint64_t n = 0;
    uint32_t len_crc = 0, data_crc = 0;
    std::memcpy(&n, bytes.data() + pos, 8);
    std::memcpy(&len_crc, bytes.data() + pos + 8, 4);
    SSM_CHECK(unmask_crc(len_crc) == crc32c(&n, 8), where, ": length CRC mismatch (corrupt file)");
    if (n > bytes.size() - pos - 12 || bytes.size() - pos - 12 - n < 4) break;  // torn record
    std::string_view data(bytes.data() + pos + 12, size_t(n));
    std::memcpy(&data_crc, bytes.data() + pos + 12 + n, 4);
    SSM_CHECK(unmask_crc(data_crc) == crc32c(data.data(), data.size()), where,
              ": data CRC mismatch (corrupt file)");
    size_t size = 12 + size_t(n) + 4;
    records.push_back({std::string_view(bytes.data() + pos, size), decode_event(data, where)});
    pos += size;
  }
  return records;
}

}  // namespace

std::vector<Event> read_events(const std::string& path) {
  std::string bytes = read_file(path);
  std::vector<Event> events;
  for (Record& r : parse_records(bytes, path)) events.push_back(std::move(r.event));
  return events;
}

std::vector<std::string> list_event_files(const std::string& logdir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(logdir, ec))
    if (e.is_regular_file() && e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(e.path().string());
  SSM_CHECK(!ec, "tensorboard: cannot list '", logdir, "': ", ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

size_t drop_events_after(const std::string& path, int64_t step) {
  std::string bytes = read_file(path);
  std::string kept;
  size_t dropped = 0;
  for (const Record& r : parse_records(bytes, path)) {
    if (r.event.step > step) {
      ++dropped;
      continue;
    }
    kept.append(r.frame);
  }
  if (dropped > 0) write_file_atomic(path, kept);
  return dropped;
}

std::vector<ScalarPoint> read_scalars(const std::string& path) {
  std::vector<ScalarPoint> points;
  for (const Event& e : read_events(path))
    for (const SummaryValue& v : e.values)
      if (v.kind == SummaryValue::Kind::scalar) points.push_back({v.tag, e.step, v.simple_value, e.wall_time});
  return points;
}

}  // namespace ssm::train
