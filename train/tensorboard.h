// TensorBoard event files, written without TensorFlow or a protobuf library.
//
// A file is a sequence of TFRecords, each holding one serialized tensorflow.Event:
//   uint64 length (little-endian) | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
// (TensorFlow's io::RecordWriter; the mask is crc32c::Mask of tensorflow/core/lib/hash/crc32c.h).
// The first record carries file_version "brain.Event:2"; the rest carry scalar or text summaries.
// `tensorboard --logdir DIR` reads these files as it reads TensorFlow's and PyTorch's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ssm::train {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). `crc` continues an earlier value, so
// crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// TFRecord's masking: a CRC stored next to the data it covers is rotated and offset, because a CRC
// computed over bytes that contain CRCs is weak.
uint32_t mask_crc(uint32_t crc);
uint32_t unmask_crc(uint32_t masked);

// Seconds since the Unix epoch, as Event.wall_time holds it.
double unix_time_now();

// Serialized Event messages and their TFRecord frame (exposed for the byte-exact tests).
std::string encode_file_version_event(double wall_time);
std::string encode_scalar_event(std::string_view tag, float value, int64_t step, double wall_time);
std::string encode_text_event(std::string_view tag, std::string_view text, int64_t step,
                              double wall_time);
std::string encode_session_start_event(int64_t step, double wall_time);
std::string frame_record(std::string_view data);

// Appends events to DIR/events.out.tfevents.<unix time>.<hostname> (TensorFlow's file name; a
// numeric suffix is added if that file already exists). Records are buffered and written out by
// flush(), by the destructor, and by the add_* call that finds the buffer older than kFlushSeconds.
// Not thread-safe.
class EventWriter {
 public:
  static constexpr double kFlushSeconds = 10.0;

  explicit EventWriter(const std::string& logdir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // A point on the curve `tag` (TensorBoard groups tags by their prefix up to '/': "train/loss").
  void add_scalar(std::string_view tag, double value, int64_t step, double wall_time = unix_time_now());
  // A text summary (TensorBoard's Text tab; markdown is rendered).
  void add_text(std::string_view tag, std::string_view text, int64_t step,
                double wall_time = unix_time_now());
  // Marks a restart at `step` (a resumed run), as PyTorch's SummaryWriter(purge_step=step) does:
  // TensorBoard's Python event accumulator then drops the events of earlier files in this run
  // that have step >= `step`, so curves do not double back (see also drop_events_after).
  void add_session_start(int64_t step, double wall_time = unix_time_now());
  // Writes buffered records to the file (to the OS; survives the process, not a power cut).
  void flush();

  const std::string& path() const { return path_; }

 private:
  void append(const std::string& event);

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  double oldest_buffered_ = 0;  // steady-clock seconds of the oldest unflushed record
};

// ---- reading back (tests, and `ssm` itself) -----------------------------------------------------

struct SummaryValue {
  enum class Kind { other, scalar, text };
  std::string tag;
  Kind kind = Kind::other;
  float simple_value = 0;  // scalar: Value.simple_value
  std::string text;        // text: the first string_val of Value.tensor
};

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  // set on the file's first record only
  bool session_start = false;
  std::vector<SummaryValue> values;
};

struct ScalarPoint {
  std::string tag;
  int64_t step = 0;
  float value = 0;
  double wall_time = 0;
};

// Parses every record of an event file, verifying both CRCs of each. A record cut short at the end
// of the file (a writer killed mid-write) is ignored, as TensorBoard does; anything else malformed
// throws ssm::Error naming the path and the byte offset. Unknown fields are skipped.
std::vector<Event> read_events(const std::string& path);
// The scalar summaries of read_events(path), in file order.
std::vector<ScalarPoint> read_scalars(const std::string& path);

// The event files (events.out.tfevents.*) directly in `logdir`, sorted by name: the order in which
// TensorBoard reads them, which is the order they were started in.
std::vector<std::string> list_event_files(const std::string& logdir);

// Drops the events with a step greater than `step` from the event file at `path`, for a run
// resumed from that step that will log them again; returns how many were dropped. When any is
// dropped the file is rewritten atomically (temp file, fsync, rename), without a torn last
// record either. TensorBoard's Python reader would also hide them on the SessionLog START event
// (EventWriter::add_session_start), but its Rust data server ignores that event and keeps any
// point that the resumed run does not log again: only removing them works for every reader.
size_t drop_events_after(const std::string& path, int64_t step);

}  // namespace ssm::train
