// A small synthetic image data set in the MNIST layout (tasks/seq_image/task.h): IDX files in
// <dir>/<folder>/, for tests that must not need the real downloads.
//
// Two classes that only order tells apart: label 0 has the bright pixels in the top half of the
// image, label 1 in the bottom half, each with the same amount of brightness and some noise; so
// the mean of the pixels carries no label, and a model must use where in the sequence they came.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/idx.h"

namespace ssm::testing {

inline void write_synthetic_images(const std::string& dir, const std::string& folder, int64_t n_train,
                                   int64_t n_test, int64_t side = 4, uint64_t seed = 1) {
  std::filesystem::create_directories(std::filesystem::path(dir) / folder);
  Generator gen(seed);
  auto make = [&](int64_t n, const std::string& prefix) {
    data::IdxArray images{{n, side, side}, std::vector<uint8_t>(size_t(n * side * side))};
    data::IdxArray labels{{n}, std::vector<uint8_t>(size_t(n))};
    std::vector<float> noise = Tensor::rand({n, side * side}, DType::f32, &gen).to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t label = uint8_t(i % 2);
      labels.data[size_t(i)] = label;
      for (int64_t p = 0; p < side * side; ++p) {
        bool top = p < side * side / 2;
        int bright = (top == (label == 0)) ? 200 : 20;
        images.data[size_t(i * side * side + p)] = uint8_t(bright + int(noise[size_t(i * side * side + p)] * 50));
      }
    }
    std::string base = (std::filesystem::path(dir) / folder / prefix).string();
    data::write_idx(base + "-images-idx3-ubyte", images);
    data::write_idx(base + "-labels-idx1-ubyte", labels);
  };
  make(n_train, "train");
  make(n_test, "t10k");
}

}  // namespace ssm::testing
