#include "tasks/piglatin/dataset.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "core/file.h"
#include "tasks/piglatin/piglatin.h"
#include "data/shuffle.h"

namespace ssm::tasks {

std::vector<WordPair> parse_pairs_tsv(std::string_view text, const std::string& source) {
  std::vector<WordPair> pairs;
  std::unordered_map<std::string, size_t> first_line;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t tab = line.find('\t');
    SSM_CHECK(tab != std::string_view::npos && line.find('\t', tab + 1) == std::string_view::npos,
              source, ":", line_no, ": expected `english<TAB>piglatin`, found ", quote_word(line));
    WordPair p{std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))};
    try {
      check_word(p.source);
    } catch (const Error& e) {
      SSM_FAIL(source, ":", line_no, ": ", e.what());
    }
    SSM_CHECK(!p.target.empty(), source, ":", line_no, ": empty translation of ",
              quote_word(p.source));
    for (size_t i = 0; i < p.target.size(); ++i) {
      char c = p.target[i];
      SSM_CHECK((c >= 'a' && c <= 'z') || c == '-', source, ":", line_no, ": translation ",
                quote_word(p.target), " has a character other than a-z and '-' at character ",
                i + 1);
    }
    auto [it, fresh] = first_line.emplace(p.source, line_no);
    SSM_CHECK(fresh, source, ":", line_no, ": ", quote_word(p.source),
              " was already given on line ", it->second);
    pairs.push_back(std::move(p));
  }
  SSM_CHECK(!pairs.empty(), source, ": no word pairs");
  return pairs;
}

std::vector<WordPair> load_pairs_tsv(const std::string& path) {
  return parse_pairs_tsv(read_file(path), path);
}

PairSplit split_pairs(const std::vector<WordPair>& pairs, uint64_t seed,
                      double validation_fraction) {
  SSM_CHECK(validation_fraction >= 0 && validation_fraction <= 1,
            "split_pairs: validation_fraction must be in [0, 1], got ", validation_fraction);
  int64_t n = int64_t(pairs.size());
  int64_t n_val = std::llround(double(n) * validation_fraction);
  std::vector<int64_t> perm = data::random_permutation(n, seed);
  std::vector<bool> in_val(size_t(n), false);
  for (int64_t i = 0; i < n_val; ++i) in_val[size_t(perm[size_t(i)])] = true;
  PairSplit split;
  for (int64_t i = 0; i < n; ++i)
    (in_val[size_t(i)] ? split.validation : split.train).push_back(pairs[size_t(i)]);
  return split;
}

EncodedPair encode_pair(const data::CharTokenizer& tok, const WordPair& pair) {
  std::vector<int64_t> src = tok.encode(pair.source), tgt = tok.encode(pair.target);
  EncodedPair e;
  e.ids.push_back(tok.sos());
  e.ids.insert(e.ids.end(), src.begin(), src.end());
  e.ids.push_back(tok.sep());
  size_t first_target = e.ids.size();  // index of t_1
  e.ids.insert(e.ids.end(), tgt.begin(), tgt.end());
  e.ids.push_back(tok.eos());
  e.targets.assign(e.ids.size(), data::kIgnoreIndex);
  for (size_t i = first_target - 1; i + 1 < e.ids.size(); ++i) e.targets[i] = e.ids[i + 1];
  return e;
}

PairBatches::PairBatches(std::vector<WordPair> pairs, const data::CharTokenizer& tok, int64_t max_batch)
    : pairs_(std::move(pairs)), max_batch_(max_batch) {
  SSM_CHECK(max_batch > 0, "pig latin batches: the batch size must be > 0, got ", max_batch);
  encoded_.reserve(pairs_.size());
  for (size_t i = 0; i < pairs_.size(); ++i) {
    encoded_.push_back(encode_pair(tok, pairs_[i]));
    by_length_[int64_t(encoded_.back().ids.size())].push_back(int64_t(i));
  }
}

std::vector<std::vector<int64_t>> PairBatches::epoch_plan(uint64_t seed, int64_t epoch) const {
  SSM_CHECK(epoch >= 0, "pig latin batches: epoch must be >= 0, got ", epoch);
  uint64_t epoch_seed = data::derive_seed(seed, uint64_t(epoch));
  std::vector<std::vector<int64_t>> batches;
  uint64_t stream = 1;  // stream 0 orders the batches
  for (const auto& [length, rows] : by_length_) {
    std::vector<int64_t> perm = data::random_permutation(int64_t(rows.size()), epoch_seed, stream++);
    for (size_t start = 0; start < perm.size(); start += size_t(max_batch_)) {
      std::vector<int64_t> b;
      for (size_t k = start; k < std::min(perm.size(), start + size_t(max_batch_)); ++k)
        b.push_back(rows[size_t(perm[k])]);
      batches.push_back(std::move(b));
    }
  }
  std::vector<int64_t> order = data::random_permutation(int64_t(batches.size()), epoch_seed, 0);
  std::vector<std::vector<int64_t>> out;
  out.reserve(batches.size());
  for (int64_t i : order) out.push_back(std::move(batches[size_t(i)]));
  return out;
}

std::vector<std::vector<int64_t>> PairBatches::fixed_plan() const {
  std::vector<std::vector<int64_t>> batches;
  for (const auto& [length, rows] : by_length_)
    for (size_t start = 0; start < rows.size(); start += size_t(max_batch_)) {
      size_t end = std::min(rows.size(), start + size_t(max_batch_));
      batches.emplace_back(rows.begin() + std::ptrdiff_t(start),
                           rows.begin() + std::ptrdiff_t(end));
    }
  return batches;
}

data::Batch PairBatches::batch(std::span<const int64_t> rows) const {
  SSM_CHECK(!rows.empty(), "pig latin batches: empty batch");
  for (int64_t r : rows)
    SSM_CHECK(r >= 0 && r < size(), "pig latin batches: example ", r, " out of range [0, ",
              size(), ")");
  int64_t b = int64_t(rows.size()), len = int64_t(encoded_[size_t(rows[0])].ids.size());
  std::vector<int64_t> ids, targets;
  ids.reserve(size_t(b * len));
  targets.reserve(size_t(b * len));
  for (int64_t r : rows) {
    const EncodedPair& e = encoded_[size_t(r)];
    SSM_CHECK(int64_t(e.ids.size()) == len, "pig latin batches: example ", r, " has length ",
              e.ids.size(), ", the batch's is ", len);
    ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    targets.insert(targets.end(), e.targets.begin(), e.targets.end());
  }
  return {Tensor::from_vector(ids, {b, len}), Tensor::from_vector(targets, {b, len}), Tensor()};
}

}  // namespace ssm::tasks
