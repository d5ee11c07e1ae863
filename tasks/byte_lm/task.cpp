#include "tasks/byte_lm/task.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/file.h"
#include "core/rng.h"
#include "data/fetch.h"
#include "data/text_dataset.h"
#include "infer/model_decoder.h"
#include "infer/sampling.h"
#include "tasks/byte_lm/austen.h"

namespace ssm::tasks {

const schema::Section<ByteLMData>& ByteLMData::section() {
  static const schema::Section<ByteLMData> s = [] {
    schema::Section<ByteLMData> s("dataset");
    s.add("path", &ByteLMData::path, kDataPathDoc).aliases = {"data_path", "data_dir"};
    s.add("val_fraction", &ByteLMData::val_fraction, schema::open_between(0, 1),
          "share held out for validation (the end of the text)")
        .aliases = {"val_split", "validation_split"};
    s.add("seq_len", &ByteLMData::seq_len, schema::at_least(2),
          "tokens per training window and evaluation chunk; longer sequences are split")
        .aliases = {"max_seq_len", "max_length", "seq_length", "block_size"};
    return s;
  }();
  return s;
}

ByteLMTask::ByteLMTask(const std::string& text_path, double val_fraction, int64_t batch_size,
                       int64_t seq_len, uint64_t seed)
    : batch_size_(batch_size), seq_len_(seq_len), seed_(seed) {
  std::string text = read_file(text_path);
  data::TextSplit split = data::split_text(text, val_fraction);
  train_text_ = std::move(split.train);
  val_text_ = std::move(split.validation);
  SSM_CHECK(int64_t(train_text_.size()) > seq_len + 1, "ByteLMTask: ", text_path, " has only ",
            train_text_.size(), " training bytes for windows of ", seq_len);
}

int64_t ByteLMTask::batches_per_epoch() const {
  return std::max<int64_t>(1, int64_t(train_text_.size()) / (batch_size_ * seq_len_));
}

models::Batch ByteLMTask::train_batch(int64_t epoch, int64_t index) const {
  // One generator per batch, keyed by (seed, epoch, index): resumable and thread-independent.
  Generator gen(seed_ * 0x9E3779B97F4A7C15ull + uint64_t(epoch) * 1000003ull + uint64_t(index));
  return data::sample_windows(train_text_, batch_size_, seq_len_, gen);
}

train::Metrics ByteLMTask::evaluate(const models::Model& model, int64_t max_batches) const {
  train::BatchScore total;
  int64_t n = 0;
  for (const models::Batch& b : data::sequential_chunks(val_text_, batch_size_, seq_len_)) {
    if (max_batches > 0 && n++ >= max_batches) break;
    total += train::score_batch(model, b);
  }
  SSM_CHECK(total.tokens > 0, "evaluate: no validation text");
  double loss = total.loss_sum / double(total.tokens);
  return {{"val_loss", loss}, {"val_tokens", double(total.tokens)}, {"val_bpb", loss / std::log(2.0)}};
}

std::string ByteLMTask::describe() const {
  std::ostringstream os;
  os << "byte LM: " << train_text_.size() << " training bytes, " << val_text_.size()
     << " validation bytes, windows of " << seq_len_ << ", " << batches_per_epoch()
     << " batches per epoch";
  return os.str();
}

namespace {

// `ssm demo`'s output: 300 bytes sampled after each prompt (top-p 0.9, temperature 0.8, seed 1).
void demo(const train::Task& task, const models::Model& model, const std::vector<std::string>& inputs,
          std::ostream& out) {
  std::vector<std::string> prompts = inputs;
  if (prompts.empty()) prompts = {"It is a truth universally acknowledged"};
  infer::SamplingOptions opt;
  opt.temperature = 0.8;
  opt.top_p = 0.9;
  opt.seed = 1;
  opt.max_new_tokens = 300;
  for (const std::string& p : prompts) {
    SSM_CHECK(!p.empty(), "demo: a prompt must not be empty");
    infer::ModelDecoder dec(model);
    std::vector<int64_t> ids = task.tokenizer().encode(p);
    auto gen = infer::generate(dec, std::vector<std::vector<int64_t>>{ids}, opt);
    out << p << task.tokenizer().decode(gen[0]) << "\n\n";
  }
}

// `ssm data show`: the text's size, its split and an excerpt.
void show(const std::string& file, const TaskContext&, std::ostream& out) {
  std::string text = read_file(file);
  size_t lines = 0, non_ascii = 0;
  for (char c : text) {
    lines += c == '\n';
    non_ascii += static_cast<unsigned char>(c) >= 0x80;
  }
  data::TextSplit split = data::split_text(text);
  out << file << ": " << text.size() << " bytes, " << lines << " lines, " << non_ascii
      << " non-ASCII bytes; vocabulary: 256 byte ids\n";
  out << "  split by position: " << split.train.size() << " train bytes, " << split.validation.size()
      << " validation bytes\n";
  size_t at = text.find("It is a truth");
  if (at != std::string::npos) out << "  excerpt: " << text.substr(at, text.find("\n\n", at) - at) << "\n";
}

}  // namespace

TaskInfo austen_char_task_info() {
  TaskInfo t;
  t.name = "austen_char";
  t.doc = "byte-level language model on the six Austen novels (4.1 MB, built by ssm data build)";
  t.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = ByteLMData::section().json_keys();
    return keys;
  };
  t.defaults = [] { return ByteLMData::section().write(ByteLMData{}); };
  t.metrics = {"val_bpb"};
  t.data_file = [](const json& options) { return data_file_in(options, kAustenText); };
  t.build_hint = "`ssm data fetch && ssm data build` writes it";
  t.check = [](const json&, int64_t) { return schema::Failures{}; };
  t.create = [](const json& options, const TaskContext& ctx) -> std::unique_ptr<train::Task> {
    ByteLMData d = ByteLMData::section().read_own(options);
    return std::make_unique<ByteLMTask>(data_file_in(options, kAustenText), d.val_fraction,
                                        ctx.batch_size, d.seq_len, ctx.seed);
  };
  t.demo = demo;
  t.show = show;
  return t;
}

DataBuilder austen_data_builder() {
  return {"austen", [](const std::string& raw_dir, const std::string& out_dir, std::ostream& log) {
            data::RawFiles raw = data::raw_files(raw_dir);
            std::string path = (std::filesystem::path(out_dir) / kAustenText).string();
            std::vector<Novel> novels = load_austen(raw.austen_rdb, raw.austen_rdx);
            std::string text = austen_text(novels);
            write_file_atomic(path, text);
            log << "wrote " << path << ": " << novels.size() << " novels, " << text.size()
                << " bytes\n";
          }};
}

}  // namespace ssm::tasks
