#include "data/text_dataset.h"

#include <algorithm>

#include "core/error.h"

namespace ssm::data {

namespace {

// ids / targets of the chunks starting at `starts`, each `length` long.
Batch make_batch(std::string_view bytes, const std::vector<int64_t>& starts, int64_t length) {
  int64_t b = int64_t(starts.size());
  std::vector<int64_t> ids(size_t(b * length)), targets(size_t(b * length));
  for (int64_t r = 0; r < b; ++r)
    for (int64_t t = 0; t < length; ++t) {
      size_t p = size_t(starts[size_t(r)] + t);
      ids[size_t(r * length + t)] = static_cast<unsigned char>(bytes[p]);
      targets[size_t(r * length + t)] = static_cast<unsigned char>(bytes[p + 1]);
    }
  return {Tensor::from_vector(ids, {b, length}), Tensor::from_vector(targets, {b, length}),
          Tensor()};
}

}  // namespace

TextSplit split_text(std::string_view bytes, double validation_fraction) {
  SSM_CHECK(validation_fraction >= 0 && validation_fraction <= 1,
            "split_text: validation_fraction must be in [0, 1], got ", validation_fraction);
  size_t n_train = size_t(double(bytes.size()) * (1 - validation_fraction));
  return {std::string(bytes.substr(0, n_train)), std::string(bytes.substr(n_train))};
}

Batch sample_windows(std::string_view bytes, int64_t batch, int64_t length, Generator& gen) {
  SSM_CHECK(batch > 0 && length > 0, "sample_windows: batch (", batch, ") and length (", length,
            ") must be > 0");
  int64_t n = int64_t(bytes.size());
  SSM_CHECK(n > length, "sample_windows: a window of ", length + 1, " bytes does not fit in ", n,
            " bytes of text");
  std::vector<int64_t> starts = Tensor::randint({batch}, 0, n - length, DType::i64, &gen)
                                    .to_vector<int64_t>();
  return make_batch(bytes, starts, length);
}

std::vector<Batch> sequential_chunks(std::string_view bytes, int64_t batch, int64_t length) {
  SSM_CHECK(batch > 0 && length > 0, "sequential_chunks: batch (", batch, ") and length (",
            length, ") must be > 0");
  int64_t predicted = int64_t(bytes.size()) - 1;  // every byte but the first
  std::vector<Batch> out;
  std::vector<int64_t> starts;
  int64_t s = 0;
  for (; s + length <= predicted; s += length) {
    starts.push_back(s);
    if (int64_t(starts.size()) == batch) {
      out.push_back(make_batch(bytes, starts, length));
      starts.clear();
    }
  }
  if (!starts.empty()) out.push_back(make_batch(bytes, starts, length));
  if (s < predicted) out.push_back(make_batch(bytes, {s}, predicted - s));
  return out;
}

}  // namespace ssm::data
