#include "tasks/tokens_file/task.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/cross_entropy.h"

namespace ssm::tasks {

const schema::Section<TokensFileData>& TokensFileData::section() {
  static const schema::Section<TokensFileData> s = [] {
    schema::Section<TokensFileData> s("dataset");
    s.add("path", &TokensFileData::path, "the file of token ids, one sequence a line")
        .aliases = {"data_path", "data_dir"};
    s.add("val_fraction", &TokensFileData::val_fraction, schema::open_between(0, 1),
          "share held out for validation")
        .aliases = {"val_split", "validation_split"};
    s.add("seq_len", &TokensFileData::seq_len, schema::at_least(2),
          "tokens per training window and evaluation chunk; longer sequences are split")
        .aliases = {"max_seq_len", "max_length", "seq_length", "block_size"};
    return s;
  }();
  return s;
}

TokensFileTask::TokensFileTask(const std::string& path) : path_(path) {
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

models::Batch TokensFileTask::train_batch(int64_t, int64_t) const {
  SSM_FAIL("dataset tokens_file cannot be trained on; use it with ssm eval --tokens");
}

const data::Tokenizer& TokensFileTask::tokenizer() const {
  SSM_FAIL("dataset tokens_file has no tokenizer (its lines are token ids already)");
}

std::string TokensFileTask::describe() const {
  return "token ids from " + path_ + ": " + std::to_string(lines_.size()) + " sequences";
}

train::Metrics TokensFileTask::evaluate(const models::Model& model, int64_t max_batches) const {
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
  return {{"val_loss", total / double(count)},
          {"val_tokens", double(count)},
          {"val_sequences", double(lines_.size())},
          {"val_perplexity", std::exp(total / double(count))}};
}

TaskInfo tokens_file_task_info() {
  TaskInfo t;
  t.name = "tokens_file";
  t.doc = "token ids, one sequence a line (dataset.path is the file; set model.vocab_size); "
          "evaluation only";
  t.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = TokensFileData::section().json_keys();
    return keys;
  };
  t.defaults = [] { return TokensFileData::section().write(TokensFileData{}); };
  t.metrics = {"val_sequences", "val_perplexity"};
  t.trainable = false;
  t.data_file = [](const json& options) {
    return options.contains("path") ? options.at("path").get<std::string>() : std::string();
  };
  t.check = [](const json& options, int64_t vocab_size) {
    schema::Failures f;
    if (!options.contains("path") || options.at("path").get<std::string>().empty())
      f.push_back({"dataset.path", {"dataset.name"}, "tokens_file needs dataset.path, the file of token ids"});
    if (vocab_size == 0)
      f.push_back({"model.vocab_size", {"dataset.name"},
                   "tokens_file has no tokenizer; set model.vocab_size above every token id"});
    return f;
  };
  t.create = [](const json& options, const TaskContext&) -> std::unique_ptr<train::Task> {
    return std::make_unique<TokensFileTask>(options.at("path").get<std::string>());
  };
  return t;
}

}  // namespace ssm::tasks
