// TensorBoard event files: CRC-32C against published vectors, the exact bytes of one Event,
// and write → read round trips that check every record's frame and CRCs.
#include "train/tensorboard.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "support/paths.h"

namespace ssm::train {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

uint32_t crc_of(const std::string& s) { return crc32c(s.data(), s.size()); }

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ssm_tensorboard_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error(std::strerror(errno));
    path_ = pattern;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Walks the TFRecord frames of `bytes` independently of read_events, checking both CRCs of every
// record; returns the payloads.
std::vector<std::string> walk_records(const std::string& bytes) {
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    EXPECT_GE(bytes.size() - pos, 16u) << "short record at " << pos;
    if (bytes.size() - pos < 16) break;
    uint64_t n;
    uint32_t len_crc, data_crc;
    std::memcpy(&n, bytes.data() + pos, 8);
    std::memcpy(&len_crc, bytes.data() + pos + 8, 4);
    EXPECT_EQ(len_crc, mask_crc(crc32c(bytes.data() + pos, 8))) << "length CRC at " << pos;
    EXPECT_LE(n, bytes.size() - pos - 16);
    if (n > bytes.size() - pos - 16) break;
    std::string data = bytes.substr(pos + 12, size_t(n));
    std::memcpy(&data_crc, bytes.data() + pos + 12 + n, 4);
    EXPECT_EQ(data_crc, mask_crc(crc_of(data))) << "data CRC at " << pos;
    records.push_back(data);
    pos += 16 + size_t(n);
  }
  return records;
}

// ---- CRC-32C ------------------------------------------------------------------------------------

TEST(Crc32c, CheckValue) {
  // The catalogued check value of CRC-32/ISCSI (CRC-32C): the CRC of the ASCII string "123456789".
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
  EXPECT_EQ(crc_of(""), 0u);
}

TEST(Crc32c, Rfc3720Vectors) {
  // RFC 3720 (iSCSI), appendix B.4 "CRC Examples". The RFC lists the CRC bytes as sent on the wire
  // (least significant byte first): "aa 36 91 8a" is the value 0x8A9136AA.
  std::string buf(32, '\0');
  EXPECT_EQ(crc_of(buf), 0x8A9136AAu);  // 32 bytes of zeroes
  buf.assign(32, '\xff');
  EXPECT_EQ(crc_of(buf), 0x62A8AB43u);  // 32 bytes of ones
  for (int i = 0; i < 32; ++i) buf[size_t(i)] = char(i);
  EXPECT_EQ(crc_of(buf), 0x46DD794Eu);  // 32 bytes of incrementing 00..1f
  for (int i = 0; i < 32; ++i) buf[size_t(i)] = char(31 - i);
  EXPECT_EQ(crc_of(buf), 0x113FDB5Cu);  // 32 bytes of decrementing 1f..00
  // An iSCSI - SCSI Read (10) Command PDU.
  const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                           0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc32c(pdu, sizeof(pdu)), 0xD9963A56u);
}

TEST(Crc32c, ExtendsAcrossPieces) {
  std::string a = "hello ", b = "world";
  EXPECT_EQ(crc32c(b.data(), b.size(), crc_of(a)), crc_of(a + b));
}

TEST(Crc32c, Mask) {
  // ((crc >> 15) | (crc << 17)) + 0xa282ead8, by hand for crc = 0xE3069283:
  // 0x0001C60D | 0x25060000 = 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5.
  EXPECT_EQ(mask_crc(0xE3069283u), 0xC78AB0E5u);
  for (uint32_t c : {0u, 1u, 0xFFFFFFFFu, 0x8A9136AAu, 0xA282EAD8u})
    EXPECT_EQ(unmask_crc(mask_crc(c)), c);
}

// ---- encoding -----------------------------------------------------------------------------------

TEST(TensorBoard, ScalarEventBytes) {
  // Event{wall_time: 1.5, step: 3, summary: Summary{value: [Value{tag: "loss", simple_value: 0.5}]}}
  const std::string expected(
      "\x09" "\x00\x00\x00\x00\x00\x00\xf8\x3f"  // field 1 fixed64: 1.5
      "\x10" "\x03"                              // field 2 varint: 3
      "\x2a" "\x0d"                              // field 5 bytes, 13: Summary
      "\x0a" "\x0b"                              //   field 1 bytes, 11: Value
      "\x0a" "\x04" "loss"                       //     field 1 bytes, 4: tag
      "\x15" "\x00\x00\x00\x3f",                 //     field 2 fixed32: 0.5f
      26);
  EXPECT_EQ(encode_scalar_event("loss", 0.5f, 3, 1.5), expected);

  // Zero step and wall time are proto3 defaults, left out; simple_value is in a oneof, kept at 0.
  EXPECT_EQ(encode_scalar_event("a", 0.0f, 0, 0.0),
            std::string("\x2a\x0a\x0a\x08\x0a\x01" "a" "\x15\x00\x00\x00\x00", 12));
  // A negative step is a ten-byte two's-complement varint.
  std::string neg = encode_scalar_event("a", 1.0f, -1, 0.0);
  EXPECT_EQ(neg.substr(0, 11), std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
}

TEST(TensorBoard, FileVersionEventBytes) {
  const std::string expected(
      "\x09" "\x00\x00\x00\x00\x00\x00\xf8\x3f"  // wall_time 1.5
      "\x1a" "\x0d" "brain.Event:2",             // field 3 bytes, 13: file_version
      24);
  EXPECT_EQ(encode_file_version_event(1.5), expected);
}

TEST(TensorBoard, SessionStartEventBytes) {
  // Event{step: 300, session_log: SessionLog{status: START}}; 300 = varint ac 02.
  EXPECT_EQ(encode_session_start_event(300, 0.0), std::string("\x10\xac\x02\x3a\x02\x08\x01", 7));
}

TEST(TensorBoard, RecordFrame) {
  std::string data = encode_scalar_event("loss", 0.5f, 3, 1.5);
  std::string rec = frame_record(data);
  ASSERT_EQ(rec.size(), 8 + 4 + data.size() + 4);
  EXPECT_EQ(rec.substr(0, 8), std::string("\x1a\0\0\0\0\0\0\0", 8));  // 26, little-endian
  EXPECT_EQ(rec.substr(12, data.size()), data);
  std::vector<std::string> records = walk_records(rec);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], data);
}

// ---- writing and reading files ------------------------------------------------------------------

TEST(TensorBoard, RoundTrip) {
  TempDir dir;
  fs::path logdir = dir.path() / "runs" / "a";  // created on demand
  std::string path;
  {
    EventWriter w(logdir.string());
    path = w.path();
    w.add_scalar("train/loss", 2.5, 1, 1000.25);
    w.add_scalar("train/loss", 1.25, 2, 1001.5);
    w.add_scalar("val/word_accuracy", 0.875, 2, 1002.0);
    w.add_scalar("train/lr", 3e-4, 1000000000000, 1003.0);
    w.add_text("samples", "strength -> engthstray", 2, 1004.0);
  }  // destructor flushes

  std::vector<fs::path> files = event_files(logdir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].string(), path);
  // TensorFlow's name: events.out.tfevents.<unix seconds, 10 digits>.<hostname>
  const std::string prefix = "events.out.tfevents.";
  std::string name = files[0].filename().string();
  ASSERT_EQ(name.rfind(prefix, 0), 0u) << name;
  std::string seconds = name.substr(prefix.size(), 10);
  EXPECT_EQ(seconds.find_first_not_of("0123456789"), std::string::npos) << name;
  EXPECT_NEAR(std::stod(seconds), unix_time_now(), 600);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(name.substr(prefix.size() + 10), "." + std::string(host));

  // Every record's frame and CRCs, walked independently.
  std::vector<std::string> records = walk_records(read_file(path));
  ASSERT_EQ(records.size(), 6u);

  std::vector<Event> events = read_events(path);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(events[0].values.empty());
  EXPECT_NEAR(events[0].wall_time, unix_time_now(), 600);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].file_version, "");

  std::vector<ScalarPoint> s = read_scalars(path);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].tag, "train/loss");
  EXPECT_EQ(s[0].step, 1);
  EXPECT_EQ(s[0].value, 2.5f);
  EXPECT_EQ(s[0].wall_time, 1000.25);
  EXPECT_EQ(s[1].tag, "train/loss");
  EXPECT_EQ(s[1].step, 2);
  EXPECT_EQ(s[1].value, 1.25f);
  EXPECT_EQ(s[2].tag, "val/word_accuracy");
  EXPECT_EQ(s[2].value, 0.875f);
  EXPECT_EQ(s[3].step, 1000000000000);
  EXPECT_EQ(s[3].value, float(3e-4));

  const Event& text = events[5];
  ASSERT_EQ(text.values.size(), 1u);
  EXPECT_EQ(text.values[0].kind, SummaryValue::Kind::text);
  EXPECT_EQ(text.values[0].tag, "samples");
  EXPECT_EQ(text.values[0].text, "strength -> engthstray");
  EXPECT_EQ(text.step, 2);
}

TEST(TensorBoard, FlushMakesRecordsVisible) {
  TempDir dir;
  EventWriter w(dir.path().string());
  EXPECT_EQ(read_events(w.path()).size(), 1u);  // the file_version record is written at once
  w.add_scalar("loss", 1.0, 1);
  w.flush();
  EXPECT_EQ(read_scalars(w.path()).size(), 1u);
}

TEST(TensorBoard, SessionStartRoundTrip) {
  TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path().string());
    path = w.path();
    w.add_session_start(300);
    w.add_scalar("loss", 0.25, 301);
  }
  std::vector<Event> events = read_events(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[1].session_start);
  EXPECT_EQ(events[1].step, 300);
  EXPECT_FALSE(events[2].session_start);
}

TEST(TensorBoard, WritersInOneDirectoryGetTheirOwnFiles) {
  TempDir dir;
  EventWriter a(dir.path().string()), b(dir.path().string());
  EXPECT_NE(a.path(), b.path());
  EXPECT_EQ(event_files(dir.path()).size(), 2u);
}

TEST(TensorBoard, TornTailIsIgnored) {
  TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path().string());
    path = w.path();
    w.add_scalar("loss", 1.0, 1);
    w.add_scalar("loss", 2.0, 2);
  }
  std::string bytes = read_file(path);
  for (size_t cut : {size_t(1), size_t(5), size_t(14)}) {
    write_file(path, bytes.substr(0, bytes.size() - cut));
    std::vector<ScalarPoint> s = read_scalars(path);
    ASSERT_EQ(s.size(), 1u) << "cut " << cut;
    EXPECT_EQ(s[0].step, 1);
  }
}

TEST(TensorBoard, CorruptRecordNamesPathAndOffset) {
  TempDir dir;
  std::string path;
  {
    EventWriter w(dir.path().string());
    path = w.path();
    w.add_scalar("loss", 1.0, 1);
  }
  std::string bytes = read_file(path);
  size_t second = 16 + encode_file_version_event(1.0).size();  // both wall times are 8 bytes
  std::string bad = bytes;
  bad[bad.size() - 6] ^= 0x01;  // inside the second record's data (its simple_value)
  write_file(path, bad);
  try {
    read_events(path);
    FAIL() << "expected a data CRC error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("record at byte " + std::to_string(second)), std::string::npos) << msg;
    EXPECT_NE(msg.find("data CRC mismatch"), std::string::npos) << msg;
  }
  bad = bytes;
  bad[second] ^= 0x01;  // the second record's length
  write_file(path, bad);
  EXPECT_THROW(read_events(path), Error);
}

TEST(TensorBoard, ErrorsNameThePath) {
  TempDir dir;
  fs::path file = dir.path() / "not_a_dir";
  write_file(file, "x");
  try {
    EventWriter w(file.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  fs::path missing = dir.path() / "missing";
  try {
    read_events(missing.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

// ---- a resumed run's files: the events past its checkpoint go -----------------------------------

// An event file as a run killed after step 10 leaves it, when its checkpoint was at step 6.
std::string killed_run_file(const fs::path& dir) {
  EventWriter w(dir.string());
  w.add_session_start(4, 1000.0);  // itself resumed at step 3 earlier
  for (int64_t s = 1; s <= 10; ++s) {
    w.add_scalar("train/loss", 1.0 / double(s), s, 1000.0 + double(s));
    if (s % 3 == 0) w.add_scalar("val/loss", 2.0 / double(s), s, 1000.5 + double(s));
  }
  w.add_text("samples", "strength -> engthstray", 6, 1007.0);
  w.add_text("samples", "the -> ethay", 9, 1010.0);
  return w.path();
}

TEST(TensorBoard, DropEventsAfterKeepsTheEarlierRecordsAsTheyWere) {
  TempDir dir;
  std::string path = killed_run_file(dir.path());
  std::string before = read_file(path);
  std::vector<std::string> original = walk_records(before);
  std::vector<Event> events = read_events(path);
  ASSERT_EQ(events.size(), original.size());

  EXPECT_EQ(drop_events_after(path, 6), 6u);  // train/loss 7-10, val/loss 9, the text of step 9
  std::string after = read_file(path);
  std::vector<std::string> expected;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].step <= 6) expected.push_back(original[i]);
  // Whole records with valid CRCs (walk_records checks both), the originals in their order.
  EXPECT_EQ(walk_records(after), expected);
  std::vector<Event> left = read_events(path);
  ASSERT_EQ(left.size(), expected.size());
  EXPECT_EQ(left[0].file_version, "brain.Event:2");
  EXPECT_TRUE(left[1].session_start);
  for (const Event& e : left) EXPECT_LE(e.step, 6);
  std::vector<ScalarPoint> s = read_scalars(path);
  ASSERT_EQ(s.size(), 8u);  // train/loss 1-6, val/loss 3 and 6
  EXPECT_EQ(s.back().tag, "val/loss");
  EXPECT_EQ(s.back().step, 6);
  EXPECT_EQ(s.back().value, float(2.0 / 6));

  EXPECT_EQ(drop_events_after(path, 6), 0u);  // nothing more to drop...
  EXPECT_EQ(read_file(path), after);          // ...and the file is left alone
  EXPECT_EQ(event_files(dir.path()).size(), 1u) << "no temporary file is left behind";
}

TEST(TensorBoard, DropEventsAfterRemovesATornTail) {
  TempDir dir;
  std::string path = killed_run_file(dir.path());
  std::string whole = read_file(path);
  write_file(path, whole + whole.substr(0, 20));  // a record cut short by the kill
  EXPECT_EQ(drop_events_after(path, 8), 4u);  // train/loss 9 and 10, val/loss 9, text 9
  std::string after = read_file(path);
  size_t framed = 0;
  for (const std::string& r : walk_records(after)) framed += 16 + r.size();
  EXPECT_EQ(framed, after.size()) << "only whole records are left";
  EXPECT_EQ(read_scalars(path).back().step, 8);
}

TEST(TensorBoard, DropEventsAfterLeavesACorruptFileAsItIs) {
  TempDir dir;
  std::string path = killed_run_file(dir.path());
  std::string bad = read_file(path);
  bad[bad.size() - 6] ^= 0x01;  // inside the last record's data
  write_file(path, bad);
  try {
    drop_events_after(path, 2);
    FAIL() << "expected a CRC error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(path), bad);
}

TEST(TensorBoard, ListEventFilesInReadingOrder) {
  TempDir dir;
  write_file(dir.path() / "events.out.tfevents.1700000100.host", "");
  write_file(dir.path() / "events.out.tfevents.1700000000.host", "");
  write_file(dir.path() / "events.out.tfevents.1700000000.host.1", "");
  write_file(dir.path() / "metrics.jsonl", "");
  fs::create_directories(dir.path() / "events.out.tfevents.1700000050.dir");
  std::vector<std::string> files = list_event_files(dir.path().string());
  std::vector<std::string> expected;
  for (const char* name : {"events.out.tfevents.1700000000.host", "events.out.tfevents.1700000000.host.1",
                           "events.out.tfevents.1700000100.host"})
    expected.push_back((dir.path() / name).string());
  EXPECT_EQ(files, expected);
}

// The real reader: TensorBoard's EventAccumulator, through tools/read_tfevents.py run by $SSM_PYTHON
// (default python3). Skipped where the tensorboard Python package is not installed (it is not in
// Debian).
TEST(TensorBoard, ReadByTensorBoardItself) {
  TempDir dir;
  {
    EventWriter w(dir.path().string());
    w.add_scalar("train/loss", 2.5, 1, 1000.25);
    w.add_scalar("train/loss", 1.25, 2, 1001.5);
    w.add_scalar("val/accuracy", 0.875, 2, 1002.0);
    w.add_text("samples", "strength -> engthstray", 2, 1003.0);
  }
  std::string tool = ssm::testing::source_dir() + "/tools/read_tfevents.py";
  const char* python = std::getenv("SSM_PYTHON");
  std::string cmd = std::string(python ? python : "python3") + " '" + tool + "' '" + dir.path().string() + "' 2>&1";
  std::FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  int status = ::pclose(pipe);
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 127))
    GTEST_SKIP() << "no python3 with the tensorboard package: " << out;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;

  nlohmann::json j = nlohmann::json::parse(out);
  nlohmann::json loss = j["scalars"]["train/loss"];
  ASSERT_EQ(loss.size(), 2u) << out;
  EXPECT_EQ(loss[0][0], 1);
  EXPECT_EQ(loss[0][1], 2.5);
  EXPECT_EQ(loss[0][2], 1000.25);
  EXPECT_EQ(loss[1][0], 2);
  EXPECT_EQ(loss[1][1], 1.25);
  EXPECT_EQ(j["scalars"]["val/accuracy"][0][1], 0.875);
  EXPECT_EQ(j["text"]["samples"][0][1], "strength -> engthstray") << out;
}

}  // namespace
}  // namespace ssm::train
