#include "tasks/tokens_file/tokens_file.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/cross_entropy.h"

namespace ssm::tasks {

TokensFile::TokensFile(const std::string& path) : path_(path) {
  std::ifstream in(path);
  SSM_CHECK(in.good(), "eval: cannot open --tokens file '", path, "'");
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream ls(line);
    Line l{lineno, {}};
    std::string tok;
    while (ls >> tok) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(tok, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      SSM_CHECK(used == tok.size(), path, ":", lineno, ": '", tok, "' is not a token id");
      l.ids.push_back(v);
    }
    if (!l.ids.empty()) lines_.push_back(std::move(l));
  }
}

train::Metrics TokensFile::evaluate(const models::Model& model, int64_t max_batches) const {
  const int64_t vocab = model.vocab_size();
  for (const Line& l : lines_)
    for (size_t i = 0; i < l.ids.size(); ++i)
      SSM_CHECK(l.ids[i] >= 0 && l.ids[i] < vocab, path_, ":", l.lineno, ": token id ", l.ids[i], " (position ",
                i + 1, ") is outside the model's vocabulary [0, ", vocab, ")");
  // Lines of one length are batched together, 64 at a time.
  std::map<size_t, std::vector<const std::vector<int64_t>*>> by_len;
  for (const Line& l : lines_)
    if (l.ids.size() >= 2) by_len[l.ids.size()].push_back(&l.ids);
  double total = 0;
  int64_t count = 0, batches = 0;
  NoGradGuard ng;
  for (auto& [len, group] : by_len) {
    for (size_t start = 0; start < group.size(); start += 64) {
      if (max_batches > 0 && batches++ >= max_batches) break;
      size_t n = std::min<size_t>(64, group.size() - start);
      std::vector<int64_t> flat;
      for (size_t i = 0; i < n; ++i) flat.insert(flat.end(), group[start + i]->begin(), group[start + i]->end());
      Tensor ids = Tensor::from_vector(flat, {int64_t(n), int64_t(len)}).to(model.device());
      Tensor logits = model.forward(ids.narrow(1, 0, int64_t(len) - 1));
      Tensor target = ids.narrow(1, 1, int64_t(len) - 1).reshape({-1});
      Tensor loss = cross_entropy(logits.reshape({-1, logits.size(2)}), target,
                                  {.reduction = Reduction::sum});
      total += loss.to(DType::f64).item<double>();
      count += int64_t(n * (len - 1));
    }
  }
  SSM_CHECK(count > 0, "eval: the --tokens file has no line with two or more tokens");
  return {{"loss", total / double(count)},
          {"tokens", double(count)},
          {"sequences", double(lines_.size())},
          {"perplexity", std::exp(total / double(count))}};
}

}  // namespace ssm::tasks
