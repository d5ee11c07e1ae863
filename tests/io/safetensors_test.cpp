// safetensors read/write: round trips for every dtype and layout, the exact bytes the official
// writer produces, zero-copy and copy-on-write loading, atomic saving, and the malformed-file
// corpus from tools/make_bad_safetensors.py (every file must raise its expected ssm::Error).
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <complex>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "support/paths.h"

namespace ssm {
namespace {

namespace fs = std::filesystem;
namespace st = safetensors;

const std::string kDataDir = ssm::testing::tests_dir() + "/data";

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// A tensor's elements as raw bytes in row-major order: round trips must be bit-exact.
std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  auto* p = static_cast<const uint8_t*>(c.raw_data());
  return {p, p + c.numel() * c.element_size()};
}

// The message of the ssm::Error that `fn` throws, or nothing when it does not throw one.
std::optional<std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// Random values of any supported dtype.
Tensor sample(DType dtype, const Shape& shape) {
  switch (dtype) {
    case DType::i32:
    case DType::i64:
      return Tensor::randint(shape, -1000, 1000, dtype);
    case DType::b8:
      return Tensor::randint(shape, 0, 2).to(DType::b8);
    case DType::c64: {
      std::vector<std::complex<double>> v;
      for (int64_t i = 0; i < shape.numel(); ++i) v.emplace_back(0.5 * double(i), -double(i));
      return Tensor::from_complex(v, shape, DType::c64);
    }
    default:
      return Tensor::randn(shape, dtype);
  }
}

void expect_same(const Tensor& actual, const Tensor& expected, const std::string& name) {
  ASSERT_TRUE(actual.defined()) << name;
  EXPECT_EQ(actual.dtype(), expected.dtype()) << name;
  EXPECT_EQ(actual.shape(), expected.shape()) << name;
  // Only with elements: core's is_contiguous() says false for empty shapes such as (2, 0, 3).
  if (expected.numel() > 0) {
    EXPECT_TRUE(actual.is_contiguous()) << name;
  }
  EXPECT_EQ(bytes_of(actual), bytes_of(expected)) << name;
}

void expect_same_files(const st::File& a, const st::File& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : b.tensors) expect_same(a.tensors.at(name), t, name);
}

// The safetensors dtypes ssm can store: all but complex128.
std::vector<DType> storable_dtypes() {
  std::vector<DType> out;
  for (DType d : kAllDTypes)
    if (d != DType::c128) out.push_back(d);
  return out;
}

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ssm_safetensors_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Every file in the scratch directory: a failed save must leave no temp file behind.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

// ---- round trips ----------------------------------------------------------------------------

TEST_F(Safetensors, RoundTripsEveryDtypeInMemoryAndOnDisk) {
  std::map<std::string, Tensor> tensors;
  for (DType d : storable_dtypes()) tensors[std::string("t_") + dtype_name(d)] = sample(d, {3, 5});
  ASSERT_EQ(tensors.size(), 8u);

  st::File parsed = st::parse(st::serialize(tensors));
  st::save(path("all.safetensors"), tensors);
  st::File loaded = st::load(path("all.safetensors"));
  for (const auto& [name, t] : tensors) {
    expect_same(parsed.tensors.at(name), t, name);
    expect_same(loaded.tensors.at(name), t, name);
  }
  EXPECT_TRUE(parsed.metadata.empty());
  EXPECT_EQ(listing(), std::vector<std::string>{"all.safetensors"});
}

TEST_F(Safetensors, WritesNonContiguousTensorsInRowMajorOrder) {
  Tensor base = Tensor::arange(24, DType::f32).reshape({4, 6});
  std::map<std::string, Tensor> tensors = {
      {"transposed", base.t()},                    // (6, 4), strides (1, 6)
      {"strided", base.slice(1, 0, 6, 2)},         // (4, 3), every other column
      {"expanded", Tensor::arange(3, DType::i64).expand({2, 3})},  // stride 0
  };
  for (const auto& [name, t] : tensors) ASSERT_FALSE(t.is_contiguous()) << name;

  st::File back = st::parse(st::serialize(tensors));
  for (const auto& [name, t] : tensors) expect_same(back.tensors.at(name), t.contiguous(), name);
  EXPECT_EQ(back.tensors.at("transposed").to_vector<float>()[1], 6.0f);  // row 0 = column 0
}

TEST_F(Safetensors, RoundTripsEmptyAndZeroDimTensors) {
  std::map<std::string, Tensor> tensors = {
      {"empty", Tensor::empty({0}, DType::f32)},
      {"empty3d", Tensor::empty({2, 0, 3}, DType::bf16)},
      {"scalar", Tensor::scalar(2.5, DType::f64)},
      {"flag", Tensor::scalar(1, DType::b8)},
  };
  st::save(path("e.safetensors"), tensors);
  for (const st::File& back :
       {st::parse(st::serialize(tensors)), st::load(path("e.safetensors"))}) {
    for (const auto& [name, t] : tensors) expect_same(back.tensors.at(name), t, name);
    EXPECT_EQ(back.tensors.at("scalar").dim(), 0);
    EXPECT_EQ(back.tensors.at("scalar").item<double>(), 2.5);
    EXPECT_EQ(back.tensors.at("empty3d").numel(), 0);
  }
}

TEST_F(Safetensors, RoundTripsMetadata) {
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"empty", ""}, {"unicode", "caf\xc3\xa9 \xe2\x9c\x93"},
      {"json", R"({"lr": 0.001, "steps": [1, 2]})"}, {"newline", "a\nb\t\"c\""}};
  std::map<std::string, Tensor> tensors = {{"w", sample(DType::f32, {2})}};
  st::save(path("m.safetensors"), tensors, metadata);
  EXPECT_EQ(st::load(path("m.safetensors")).metadata, metadata);
  EXPECT_EQ(st::parse(st::serialize({}, metadata)).metadata, metadata);
}

// ---- the bytes written ----------------------------------------------------------------------

// The official implementation's own test vectors (safetensors/src/tensor.rs): a single tensor
// and an empty file must come out byte for byte the same.
TEST_F(Safetensors, MatchesTheOfficialWriterByteForByte) {
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {1, 2, 3});
  std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);  // already a multiple of 8: no padding
  std::vector<uint8_t> expected = {64, 0, 0, 0, 0, 0, 0, 0};
  expected.insert(expected.end(), header.begin(), header.end());
  auto data = bytes_of(t);
  expected.insert(expected.end(), data.begin(), data.end());
  EXPECT_EQ(st::serialize({{"attn.0", t}}), expected);

  // 65 bytes of JSON are padded with 7 spaces so the data starts 8-byte aligned.
  std::vector<uint8_t> padded = st::serialize({{"attn0", t.reshape({1, 1, 2, 3})}});
  std::string text(padded.begin() + 8, padded.begin() + 8 + 72);
  EXPECT_EQ(padded[0], 72);
  EXPECT_EQ(text, R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})"
                  "       ");

  std::vector<uint8_t> empty = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
  EXPECT_EQ(st::serialize({}), empty);
  std::vector<uint8_t> meta = st::serialize({}, {{"framework", "pt"}});
  EXPECT_EQ(meta[0], 40);
  EXPECT_EQ(std::string(meta.begin() + 8, meta.end()),
            R"({"__metadata__":{"framework":"pt"}}     )");
}

TEST_F(Safetensors, LaysOutWidestDtypesFirstAndKeysInNameOrder) {
  std::map<std::string, Tensor> tensors = {
      {"a", sample(DType::b8, {3})},   {"b", sample(DType::f32, {2})},
      {"c", sample(DType::f64, {1})},  {"d", sample(DType::bf16, {3})},
      {"e", sample(DType::i64, {1})},  {"f", sample(DType::c64, {1})},
  };
  std::vector<uint8_t> bytes = st::serialize(tensors, {{"k", "v"}});
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  std::string text(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  auto header = nlohmann::ordered_json::parse(text);

  std::vector<std::string> keys;
  for (const auto& [key, value] : header.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"__metadata__", "a", "b", "c", "d", "e", "f"}));
  // Buffer order: 8-byte elements by name (c, e, f), then f32, bf16, bool.
  auto offsets = [&](const char* k) { return header[k]["data_offsets"].get<std::vector<int>>(); };
  EXPECT_EQ(offsets("c"), (std::vector<int>{0, 8}));
  EXPECT_EQ(offsets("e"), (std::vector<int>{8, 16}));
  EXPECT_EQ(offsets("f"), (std::vector<int>{16, 24}));
  EXPECT_EQ(offsets("b"), (std::vector<int>{24, 32}));
  EXPECT_EQ(offsets("d"), (std::vector<int>{32, 38}));
  EXPECT_EQ(offsets("a"), (std::vector<int>{38, 41}));
  EXPECT_EQ(bytes.size(), 8 + n + 41);
}

TEST_F(Safetensors, RefusesTensorsItCannotStore) {
  auto c128 = Tensor::from_complex({{1, 2}}, {1}, DType::c128);
  auto msg = error_of([&] { st::serialize({{"z", c128}}); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("tensor 'z' has dtype complex128"), std::string::npos) << *msg;
  EXPECT_NE(msg->find("view_as_real"), std::string::npos) << *msg;

  msg = error_of([] { st::serialize({{"u", Tensor()}}); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("tensor 'u' is undefined"), std::string::npos) << *msg;

  msg = error_of([] { st::serialize({{"__metadata__", Tensor::zeros({1})}}); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("reserved"), std::string::npos) << *msg;

  msg = error_of([] { st::serialize({{"bad\xff", Tensor::zeros({1})}}); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("not valid UTF-8"), std::string::npos) << *msg;
}

// ---- loading --------------------------------------------------------------------------------

TEST_F(Safetensors, LoadViewsTheMappedFileWithoutCopying) {
  std::map<std::string, Tensor> tensors = {{"w", sample(DType::f64, {64})},
                                           {"m", sample(DType::b8, {5})}};
  st::save(path("z.safetensors"), tensors);
  st::File file = st::load(path("z.safetensors"));
  for (const auto& [name, t] : file.tensors) {
    EXPECT_FALSE(t.storage()->owned) << name << " was copied";
    EXPECT_NE(t.storage()->keepalive, nullptr) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % t.element_size(), 0u) << name;
  }
  // Both tensors view one mapping: they share its keepalive.
  EXPECT_EQ(file.tensors.at("w").storage()->keepalive, file.tensors.at("m").storage()->keepalive);
}

TEST_F(Safetensors, LoadedTensorsAreCopyOnWrite) {
  Tensor w = Tensor::arange(16, DType::f32);
  st::save(path("w.safetensors"), {{"w", w}});
  std::vector<uint8_t> before = read_bytes(path("w.safetensors"));

  Tensor loaded = st::load(path("w.safetensors")).tensors.at("w");
  ASSERT_FALSE(loaded.storage()->owned);
  loaded.fill_(42.0);
  EXPECT_EQ(loaded.to_vector<float>()[3], 42.0f);

  EXPECT_EQ(read_bytes(path("w.safetensors")), before);
  expect_same(st::load(path("w.safetensors")).tensors.at("w"), w, "reloaded");
}

TEST_F(Safetensors, LoadedTensorsOutliveTheFileAndItsDirectoryEntry) {
  Tensor w = sample(DType::f32, {8, 8});
  st::save(path("w.safetensors"), {{"w", w}});
  Tensor loaded;
  {
    st::File file = st::load(path("w.safetensors"));
    loaded = file.tensors.at("w");
  }
  fs::remove(path("w.safetensors"));
  expect_same(loaded, w, "w");
}

// Saving over a file that is mapped replaces it (rename), so the mapped tensors keep the old
// values instead of changing under the reader or faulting.
TEST_F(Safetensors, SavingOverALoadedFileLeavesItsTensorsUnchanged) {
  Tensor old_w = sample(DType::f32, {32}), new_w = sample(DType::f32, {8});
  st::save(path("w.safetensors"), {{"w", old_w}});
  Tensor loaded = st::load(path("w.safetensors")).tensors.at("w");
  st::save(path("w.safetensors"), {{"w", new_w}});
  expect_same(loaded, old_w, "old mapping");
  expect_same(st::load(path("w.safetensors")).tensors.at("w"), new_w, "new file");
}

TEST_F(Safetensors, CopiesMisalignedTensorsAndMapsAlignedOnes) {
  // The corpus file has an unpadded header and a 1-byte BOOL first, so F32 data starts at an
  // odd file offset.
  st::File file = st::load(kDataDir + "/safetensors_good/misaligned.safetensors");
  const Tensor& w = file.tensors.at("w");
  const Tensor& m = file.tensors.at("m");
  EXPECT_TRUE(w.storage()->owned) << "misaligned F32 data must be copied";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.raw_data()) % 4, 0u);
  EXPECT_FALSE(m.storage()->owned) << "a BOOL is never misaligned";
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(m.to_vector<int64_t>(), std::vector<int64_t>{1});
}

TEST_F(Safetensors, ReportsOsErrorsWithThePath) {
  std::string missing = path("missing.safetensors");
  auto msg = error_of([&] { st::load(missing); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find(missing), std::string::npos) << *msg;
  EXPECT_NE(msg->find(std::strerror(ENOENT)), std::string::npos) << *msg;

  msg = error_of([&] { st::load(dir_.string()); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("not a regular file"), std::string::npos) << *msg;

  std::string nowhere = path("no/such/dir/w.safetensors");
  msg = error_of([&] { st::save(nowhere, {{"w", Tensor::zeros({1})}}); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find(nowhere), std::string::npos) << *msg;
  EXPECT_NE(msg->find(std::strerror(ENOENT)), std::string::npos) << *msg;
}

// ---- atomic saving --------------------------------------------------------------------------

class SafetensorsAtomicSave : public Safetensors {
 protected:
  void SetUp() override {
    Safetensors::SetUp();
    st::save(path("ckpt.safetensors"), {{"w", old_}});
    old_bytes_ = read_bytes(path("ckpt.safetensors"));
  }
  // The old checkpoint is still there, byte for byte, and no temp file was left behind.
  void expect_old_file_intact() {
    EXPECT_EQ(read_bytes(path("ckpt.safetensors")), old_bytes_);
    EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});
  }

  Tensor old_ = Tensor::arange(10, DType::f32);
  std::vector<uint8_t> old_bytes_;
};

TEST_F(SafetensorsAtomicSave, ATensorThatCannotBeWrittenLeavesTheOldFile) {
  Tensor ok = Tensor::zeros({4});
  Tensor c128 = Tensor::from_complex({{1, 2}}, {1}, DType::c128);
  EXPECT_THROW(st::save(path("ckpt.safetensors"), {{"ok", ok}, {"z", c128}}), Error);
  expect_old_file_intact();
}

// A write that fails half-way (here: the file size limit, EFBIG) must not touch the target.
TEST_F(SafetensorsAtomicSave, AFailedWriteLeavesTheOldFile) {
  rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 64 * 1024;
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Tensor big = Tensor::zeros({1 << 20});  // 4 MB
  auto msg = error_of([&] { st::save(path("ckpt.safetensors"), {{"big", big}}); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_TRUE(msg) << "save should fail past the file size limit";
  EXPECT_NE(msg->find(path("ckpt.safetensors") + ".tmp."), std::string::npos) << *msg;
  EXPECT_NE(msg->find(std::strerror(EFBIG)), std::string::npos) << *msg;
  expect_old_file_intact();
}

TEST_F(SafetensorsAtomicSave, AnUnwritableDirectoryLeavesTheOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  auto msg = error_of([&] { st::save(path("ckpt.safetensors"), {{"w", Tensor::zeros({4})}}); });
  fs::permissions(dir_, fs::perms::owner_all);
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find(std::strerror(EACCES)), std::string::npos) << *msg;
  expect_old_file_intact();
}

// rename() itself fails when the target is a non-empty directory; the temp file must go.
TEST_F(SafetensorsAtomicSave, AFailedRenameRemovesTheTempFile) {
  fs::create_directory(path("taken"));
  write_bytes(path("taken/keep"), {1, 2, 3});
  auto msg = error_of([&] { st::save(path("taken"), {{"w", Tensor::zeros({4})}}); });
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find("rename"), std::string::npos) << *msg;
  EXPECT_EQ(read_bytes(path("taken/keep")), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(listing(), (std::vector<std::string>{"ckpt.safetensors", "taken"}));
}

TEST_F(SafetensorsAtomicSave, ASuccessfulSaveReplacesTheFile) {
  Tensor w = sample(DType::bf16, {7});
  st::save(path("ckpt.safetensors"), {{"w", w}}, {{"step", "2"}});
  st::File back = st::load(path("ckpt.safetensors"));
  expect_same(back.tensors.at("w"), w, "w");
  EXPECT_EQ(back.metadata.at("step"), "2");
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});
}

// ---- the corpus -----------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> read_manifest(const std::string& dir) {
  std::ifstream in(dir + "/MANIFEST.txt");
  std::vector<std::pair<std::string, std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    if (tab != std::string::npos) rows.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return rows;
}

TEST(SafetensorsCorpus, EveryMalformedFileRaisesItsError) {
  std::string dir = kDataDir + "/safetensors_bad";
  auto manifest = read_manifest(dir);
  ASSERT_GE(manifest.size(), 25u) << "run tools/make_bad_safetensors.py";

  std::set<std::string> listed, on_disk;
  for (const auto& [name, expected] : manifest) listed.insert(name);
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != "MANIFEST.txt") on_disk.insert(e.path().filename());
  EXPECT_EQ(listed, on_disk) << "MANIFEST.txt and the files differ: rerun the script";

  for (const auto& [file, expected] : manifest) {
    const std::string name = file;  // lambdas cannot capture structured bindings before clang 16
    SCOPED_TRACE(name);
    std::string path = dir + "/" + name;
    auto loaded = error_of([&] { st::load(path); });
    ASSERT_TRUE(loaded) << "load() accepted a malformed file";
    EXPECT_NE(loaded->find(expected), std::string::npos) << "got: " << *loaded;
    EXPECT_NE(loaded->find(path), std::string::npos) << "the error must name the file: " << *loaded;

    auto parsed = error_of([&] { st::parse(read_bytes(path), name); });
    ASSERT_TRUE(parsed) << "parse() accepted a malformed file";
    EXPECT_NE(parsed->find(expected), std::string::npos) << "got: " << *parsed;
    EXPECT_NE(parsed->find("safetensors: " + name + ": "), std::string::npos) << *parsed;
  }
}

TEST(SafetensorsCorpus, EveryValidFileLoadsAndParsesAlike) {
  int count = 0;
  for (const auto& e : fs::directory_iterator(kDataDir + "/safetensors_good")) {
    SCOPED_TRACE(e.path().string());
    st::File loaded = st::load(e.path());
    st::File parsed = st::parse(read_bytes(e.path()), e.path());
    expect_same_files(loaded, parsed);
    // Writing what was read and reading it back changes nothing.
    expect_same_files(st::parse(st::serialize(loaded.tensors, loaded.metadata)), loaded);
    ++count;
  }
  EXPECT_GE(count, 5);
}

TEST(SafetensorsCorpus, ValidFilesHoldTheValuesTheScriptWrote) {
  auto load = [](const char* name) { return st::load(kDataDir + "/safetensors_good/" + name); };

  st::File f32 = load("f32_metadata.safetensors");
  EXPECT_EQ(f32.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(f32.tensors.at("w").to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));

  st::File mixed = load("mixed_dtypes.safetensors");
  ASSERT_EQ(mixed.tensors.size(), 8u);
  EXPECT_EQ(mixed.tensors.at("f64").to_vector<double>(), (std::vector<double>{3.25, -1.5}));
  EXPECT_EQ(mixed.tensors.at("i64").to_vector<int64_t>(),
            (std::vector<int64_t>{-7, int64_t(1) << 40}));
  EXPECT_EQ(mixed.tensors.at("c64").view_as_real().to_vector<float>(),
            (std::vector<float>{1, 2}));
  EXPECT_EQ(mixed.tensors.at("f32").shape(), (Shape{2, 3}));
  EXPECT_EQ(mixed.tensors.at("i32").to_vector<int32_t>(), std::vector<int32_t>{123456});
  EXPECT_EQ(mixed.tensors.at("bf16").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(mixed.tensors.at("f16").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(mixed.tensors.at("mask").to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  for (const auto& [name, t] : mixed.tensors) EXPECT_FALSE(t.storage()->owned) << name;

  st::File empty = load("empty_and_scalar.safetensors");
  EXPECT_EQ(empty.tensors.at("empty").shape(), (Shape{2, 0}));
  EXPECT_EQ(empty.tensors.at("scalar").dim(), 0);
  EXPECT_EQ(empty.tensors.at("scalar").item<double>(), 2.5);

  st::File none = load("no_tensors.safetensors");
  EXPECT_TRUE(none.tensors.empty());
  EXPECT_TRUE(none.metadata.empty());
}

}  // namespace
}  // namespace ssm
