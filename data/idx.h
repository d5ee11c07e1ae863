// IDX files, the format of the MNIST and Fashion-MNIST distributions (yann.lecun.com/exdb/mnist):
//   bytes 0-1  zero
//   byte  2    element type: 0x08 unsigned byte (the only type these data sets use, and the only
//              one read here)
//   byte  3    number of dimensions n >= 1
//   then n big-endian uint32 sizes, then the elements in row-major order, nothing after them.
// Images are (count, rows, cols), labels (count). Malformed files are ssm::Errors naming the file
// and what is wrong.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ssm::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, the product of dims elements
};

IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& source);
IdxArray read_idx(const std::string& path);
// The file's bytes for `a` (unsigned bytes); write_idx writes them atomically.
std::string idx_bytes(const IdxArray& a);
void write_idx(const std::string& path, const IdxArray& a);

// A labelled image set: the images file (count, rows, cols) and the labels file (count) of one
// split. ssm::Error when the counts differ or a label is not below `num_classes`.
struct ImageSet {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows * cols)
  std::vector<uint8_t> labels;  // (count)
  int64_t size() const { return int64_t(labels.size()); }
  int64_t pixels_per_image() const { return rows * cols; }
};
ImageSet read_image_set(const std::string& images_path, const std::string& labels_path,
                        int64_t num_classes);

}  // namespace ssm::data
