// A byte-level language-model data set over one text (the Austen novels): a train / validation
// split by position, random training windows and sequential evaluation chunks. Byte values are
// the token ids (ByteTokenizer); every position is trained, none is kIgnoreIndex.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"
#include "data/batch.h"

namespace ssm::data {

struct TextSplit {
  std::string train, validation;
};

// The first floor(n * (1 - validation_fraction)) bytes train, the rest validate.
TextSplit split_text(std::string_view bytes, double validation_fraction = 0.1);

// `batch` windows of length + 1 bytes starting at positions drawn uniformly by `gen`:
// ids = window[0, length), targets = window[1, length]. ids, targets: (batch, length) int64.
Batch sample_windows(std::string_view bytes, int64_t batch, int64_t length, Generator& gen);

// Consecutive chunks covering `bytes`: chunk k reads [k*length, (k+1)*length) and predicts the
// byte after each, so every byte but the first is predicted exactly once (bits per byte over the
// whole text). Batches of up to `batch` full chunks; the shorter last chunk is a batch of its own.
std::vector<Batch> sequential_chunks(std::string_view bytes, int64_t batch, int64_t length);

}  // namespace ssm::data
