// IDX files (data/idx.h): what the MNIST files hold, and clear errors for broken ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/file.h"
#include "data/idx.h"
#include "support/cli.h"

namespace ssm::data {
namespace {

using ssm::testing::TempDir;

// The message of the ssm::Error `f` throws ("" when it does not).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Idx, RoundTripsImagesAndLabels) {
  TempDir tmp("ssm_idx");
  IdxArray images{{2, 2, 3}, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}};
  std::string path = tmp.path() + "/images";
  write_idx(path, images);
  std::string bytes = read_file(path);
  // The header as MNIST's files have it: 0 0 8 3, then 2, 2, 3 as big-endian uint32.
  ASSERT_EQ(bytes.size(), 4u + 12u + 12u);
  EXPECT_EQ(bytes.substr(0, 8), std::string({0, 0, 8, 3, 0, 0, 0, 2}));
  IdxArray back = read_idx(path);
  EXPECT_EQ(back.dims, images.dims);
  EXPECT_EQ(back.data, images.data);
}

TEST(Idx, CorruptFilesAreErrorsNamingTheFile) {
  TempDir tmp("ssm_idx");
  std::string good = idx_bytes({{3}, {1, 2, 3}});
  struct Case {
    std::string bytes, expect;
  } cases[] = {
      {good.substr(0, 3), "shorter than the 4-byte header"},
      {std::string({0x1f, char(0x8b), 8, 0}) + "xxxx", "gzip-compressed"},
      {std::string({1, 0, 8, 1}) + good.substr(4), "not an IDX file"},
      {std::string({0, 0, 0x0d, 1}) + good.substr(4), "element type 13"},
      {std::string({0, 0, 8, 2}) + good.substr(4, 4), "truncated IDX header"},
      {good.substr(0, good.size() - 1), "(truncated)"},
      {good + "z", "(trailing bytes)"},
  };
  int i = 0;
  for (const Case& c : cases) {
    std::string path = tmp.path() + "/bad" + std::to_string(i++);
    write_file_atomic(path, c.bytes);
    std::string m = error_of([&] { read_idx(path); });
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << "want '" << c.expect << "' in: " << m;
  }
}

TEST(Idx, ImageSetsCheckCountsAndLabels) {
  TempDir tmp("ssm_idx");
  std::string images = tmp.path() + "/images", labels = tmp.path() + "/labels";
  write_idx(images, {{2, 1, 2}, {10, 20, 30, 40}});
  write_idx(labels, {{2}, {7, 3}});
  ImageSet s = read_image_set(images, labels, 10);
  EXPECT_EQ(s.size(), 2);
  EXPECT_EQ(s.pixels_per_image(), 2);
  EXPECT_EQ(s.pixels, (std::vector<uint8_t>{10, 20, 30, 40}));
  EXPECT_EQ(s.labels, (std::vector<uint8_t>{7, 3}));
  std::string m = error_of([&] { read_image_set(images, labels, 5); });
  EXPECT_NE(m.find("label 7 of example 0 is not below the 5 classes"), std::string::npos) << m;
  EXPECT_NE(m.find(labels), std::string::npos) << m;
  write_idx(labels, {{3}, {1, 2, 3}});
  m = error_of([&] { read_image_set(images, labels, 10); });
  EXPECT_NE(m.find("holds 2 images but"), std::string::npos) << m;
  m = error_of([&] { read_image_set(labels, labels, 10); });
  EXPECT_NE(m.find("expected images (count, rows, cols)"), std::string::npos) << m;
}

}  // namespace
}  // namespace ssm::data
