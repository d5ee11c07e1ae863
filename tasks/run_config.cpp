#include "tasks/run_config.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "core/file.h"
#include "io/schema.h"
#include "models/registry.h"
#include "nn/mixer.h"
#include "tasks/registry.h"

namespace ssm::tasks {

DatasetConfig::DatasetConfig() : options(task_info(name).defaults()) {}

RunConfig::RunConfig() { model.options = models::model_defaults(model.architecture, model.mixer); }

train::TrainerConfig RunConfig::trainer() const {
  return {.name = name,
          .seed = seed,
          .output_dir = output_dir,
          .device = device,
          .training = training,
          .optimizer = optimizer,
          .scheduler = scheduler};
}

models::ModelConfig RunConfig::model_for(int64_t tokenizer_vocab) const {
  models::ModelConfig m = model;
  int64_t v = m.options.value("vocab_size", int64_t(0));
  SSM_CHECK(v == 0 || v >= tokenizer_vocab, "model.vocab_size (", v,
            ") must be at least the tokenizer's size (", tokenizer_vocab, ")");
  if (v == 0) m.options["vocab_size"] = tokenizer_vocab;
  return m;
}

namespace {

using io::Bound;

const std::vector<std::pair<std::string, std::string>>& section_examples() {
  static const std::vector<std::pair<std::string, std::string>> s = {
      {"model", "preset"}, {"training", "max_steps"}, {"optimizer", "name"},
      {"scheduler", "name"}, {"dataset", "name"}};
  return s;
}

const schema::Section<RunConfig>& top_section() {
  static const schema::Section<RunConfig> s = [] {
    schema::Section<RunConfig> s("");
    s.add("name", &RunConfig::name, "run name, used in the default output_dir and in logs")
        .default_doc = "the config file's name without extension";
    s.add("seed", &RunConfig::seed, schema::at_least(0),
          "seed of initialisation, data order and dropout; same seed, same run on the CPU")
        .aliases = {"random_seed"};
    auto& out = s.add("output_dir", &RunConfig::output_dir,
                      "run directory: a loadable model dir (best model) with checkpoints/ inside; "
                      "a relative path is from the working folder, not the config file's");
    out.default_doc = "runs/<name>";
    out.aliases = {"output", "out_dir"};
    s.add("device", &RunConfig::device,
          "where to train: auto is the first GPU when one is visible, else the CPU")
        .default_doc = "auto";
    return s;
  }();
  return s;
}

const schema::Section<DatasetConfig>& dataset_choice_section() {
  static const schema::Section<DatasetConfig> s = [] {
    schema::Section<DatasetConfig> s("dataset");
    s.add_choice("name", &DatasetConfig::name, task_names(),
                 "the data set (see the list below; a file of token ids is evaluated with ssm "
                 "eval --tokens, not trained on)")
        .aliases = {"type"};
    return s;
  }();
  return s;
}

// The sections of one run config, bound to `cfg`: the top level, the model's choices, its
// architecture's and mixer's keys (over cfg.model.options), training, optimizer, scheduler, the
// data set's choice and its keys (over cfg.dataset.options).
struct Layout {
  std::vector<schema::Key> model_keys, dataset_keys;
  RunConfig defaults;
  std::vector<Bound> bounds;

  Layout(RunConfig& cfg) {
    model_keys = models::model_keys(cfg.model.architecture, cfg.model.mixer);
    dataset_keys = task_info(cfg.dataset.name).keys();
    defaults.model.architecture = cfg.model.architecture;
    defaults.model.mixer = cfg.model.mixer;
    defaults.model.options = models::model_defaults(cfg.model.architecture, cfg.model.mixer);
    defaults.dataset.name = cfg.dataset.name;
    defaults.dataset.options = task_info(cfg.dataset.name).defaults();
    bounds = {
        {"", &top_section().keys(), &cfg, &defaults},
        {"model", &models::model_choice_section().keys(), &cfg.model, &defaults.model},
        {"model", &model_keys, &cfg.model.options, &defaults.model.options},
        {"training", &train::TrainingConfig::section().keys(), &cfg.training, &defaults.training},
        {"optimizer", &train::OptimizerConfig::section().keys(), &cfg.optimizer, &defaults.optimizer},
        {"scheduler", &train::SchedulerConfig::section().keys(), &cfg.scheduler, &defaults.scheduler},
        {"dataset", &dataset_choice_section().keys(), &cfg.dataset, &defaults.dataset},
        {"dataset", &dataset_keys, &cfg.dataset.options, &defaults.dataset.options},
    };
  }
};

std::string or_list(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i == 0 ? "" : i + 1 == v.size() ? " or " : ", ") + v[i];
  return s;
}

// Keys of the other architectures, mixers and data sets: errors that say when they apply.
std::map<std::string, io::OtherChoiceKey> other_choice_keys(const RunConfig& cfg) {
  std::map<std::string, io::OtherChoiceKey> out;
  std::set<std::string> here;
  for (const schema::Key& k : models::model_keys(cfg.model.architecture, cfg.model.mixer)) here.insert("model." + k.name);
  for (const schema::Key& k : task_info(cfg.dataset.name).keys()) here.insert("dataset." + k.name);
  auto add = [&](const std::string& section, const std::vector<schema::Key>& keys,
                 const std::string& selector, const std::string& value) {
    for (const schema::Key& k : keys) {
      std::string path = section + "." + k.name;
      if (here.count(path) || !k.in_yaml) continue;
      std::vector<std::string> values;
      auto it = out.find(path);
      std::string v = it == out.end() ? value : it->second.values + " or " + value;
      out[path] = {selector, v};
    }
  };
  for (const nn::MixerInfo& m : nn::mixers()) add("model", m.keys(), "model.mixer", m.name);
  for (const models::ArchitectureInfo& a : models::architectures())
    add("model", a.keys(), "model.architecture", a.name);
  for (const TaskInfo& t : task_infos()) add("dataset", t.keys(), "dataset.name", t.name);
  return out;
}

// The cross-field checks of a run, with the origins of the keys involved.
void check_run(const RunConfig& c, const io::Origins& o) {
  for (const schema::Failure& f : models::model_failures(c.model)) {
    std::vector<std::string> related;
    for (const std::string& r : f.related) related.push_back("model." + r);
    io::fail_with_origins(o, "model." + f.key, related, f.message);
  }
  for (const schema::Failure& f : train::TrainingConfig::section().failures(c.training)) {
    std::vector<std::string> related;
    for (const std::string& r : f.related) related.push_back("training." + r);
    io::fail_with_origins(o, "training." + f.key, related, f.message);
  }
  const train::TrainingConfig& t = c.training;
  if (t.max_steps > 0 && c.scheduler.warmup_steps > t.max_steps)
    io::fail_with_origins(o, "scheduler.warmup_steps", {"training.max_steps"},
                          "must be <= training.max_steps (" + std::to_string(t.max_steps) +
                              "), got " + std::to_string(c.scheduler.warmup_steps));
  if (t.precision != train::Precision::fp32 && !c.device.is_cuda())
    io::fail_with_origins(o, "training.precision", {"device"},
                          std::string(train::precision_name(t.precision)) +
                              " needs a CUDA device, device is " + c.device.str() +
                              "; the CPU trains in fp32");
  const TaskInfo& task = task_info(c.dataset.name);
  std::string metric = train::metric_name(t.early_stopping_metric);
  bool reported = metric == "val_loss";
  for (const std::string& m : task.metrics) reported |= m == metric;
  if (!reported) {
    std::vector<std::string> with;
    for (const TaskInfo& x : task_infos())
      for (const std::string& m : x.metrics)
        if (m == metric) with.push_back(x.name);
    io::fail_with_origins(o, "training.early_stopping_metric", {"dataset.name"},
                          metric + " is measured on the " + or_list(with) +
                              " data sets only, dataset.name is " + c.dataset.name + "; use val_loss");
  }
  // A classification task gives one label per sequence, which only the classifier predicts.
  const bool classifier = c.model.architecture == "classifier";
  if (task.num_labels > 0 && !classifier)
    io::fail_with_origins(o, "model.architecture", {"dataset.name"},
                          "must be classifier for " + c.dataset.name + " (one of " +
                              std::to_string(task.num_labels) + " labels per sequence), got " +
                              c.model.architecture);
  if (task.num_labels == 0 && classifier) {
    std::vector<std::string> with;
    for (const TaskInfo& x : task_infos())
      if (x.num_labels > 0) with.push_back(x.name);
    io::fail_with_origins(o, "model.architecture", {"dataset.name"},
                          "classifier needs a classification data set (" + or_list(with) + "); " +
                              c.dataset.name + " predicts tokens: use lm");
  }
  if (int64_t labels = c.model.options.value("num_labels", int64_t(0)); classifier && labels < task.num_labels)
    io::fail_with_origins(o, "model.num_labels", {"dataset.name"},
                          "must be at least " + std::to_string(task.num_labels) + " for " +
                              c.dataset.name + ", got " + std::to_string(labels));
  int64_t vocab = c.model.options.value("vocab_size", int64_t(0));
  for (const schema::Failure& f : task.check(c.dataset.options, vocab))
    io::fail_with_origins(o, f.key, f.related, f.message);
}

}  // namespace

RunConfig parse_run_config(const std::string& yaml, const std::string& source,
                           const std::vector<std::string>& overrides) {
  io::ConfigDoc doc = io::ConfigDoc::parse(yaml, source, section_examples());
  for (const std::string& o : overrides) doc.add_override(o);

  // The choices that decide which keys the model and dataset sections hold.
  RunConfig cfg;
  const auto& choices = models::model_choice_section();
  if (auto v = doc.value("model.architecture", *choices.find("architecture"))) cfg.model.architecture = v->first;
  if (auto v = doc.value("model.arch", *choices.find("arch"))) cfg.model.mixer = v->first;
  if (auto v = doc.value("model.mixer", *choices.find("mixer"))) cfg.model.mixer = v->first;
  if (auto v = doc.value("dataset.name", *dataset_choice_section().find("name"))) cfg.dataset.name = v->first;
  cfg.model.options = models::model_defaults(cfg.model.architecture, cfg.model.mixer);
  cfg.dataset.options = task_info(cfg.dataset.name).defaults();

  // A preset fills its keys first; the file and --set override them.
  io::Origins preset_origins;
  if (auto v = doc.value("model.preset", *choices.find("preset"))) {
    cfg.model.preset = v->first;
    for (const models::Preset& p : models::model_presets()) {
      if (p.name != cfg.model.preset) continue;
      for (auto& [key, value] : p.values.items()) {
        if (!cfg.model.options.contains(key)) continue;  // a key this mixer does not have
        cfg.model.options[key] = value;
        preset_origins["model." + key] = "from model.preset " + p.name + " " + v->second;
      }
    }
  }

  Layout layout(cfg);
  io::Origins origins = doc.apply(layout.bounds, other_choice_keys(cfg));
  for (auto& [path, where] : preset_origins) origins.emplace(path, where);
  // A relative dataset.path is from the config file's folder, or from the working folder when a
  // --set gave it (where it was typed); made absolute so that the saved config works anywhere.
  if (std::string path = cfg.dataset.options.value("path", std::string()); !path.empty()) {
    namespace fs = std::filesystem;
    fs::path base = doc.overridden("dataset.path") ? fs::current_path() : fs::absolute(source).parent_path();
    cfg.dataset.options["path"] = (base / path).lexically_normal().string();
  }
  if (cfg.name.empty()) cfg.name = std::filesystem::path(source).stem().string();
  if (cfg.output_dir.empty()) cfg.output_dir = "runs/" + cfg.name;
  check_run(cfg, origins);
  return cfg;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  SSM_CHECK(std::filesystem::exists(path), "config file '", path, "' does not exist");
  return parse_run_config(read_file(path), path, overrides);
}

void validate(const RunConfig& cfg) {
  RunConfig copy = cfg;
  Layout layout(copy);
  io::check_values(layout.bounds);
  check_run(cfg, {});
}

std::string to_yaml(const RunConfig& cfg) {
  RunConfig copy = cfg;
  Layout layout(copy);
  return io::to_yaml(layout.bounds,
                     "ssm training config, fully resolved: every key that applies, in schema "
                     "order (ssm train --help-config)");
}

void save_run_config(const std::string& path, const RunConfig& cfg) {
  write_file_atomic(path, to_yaml(cfg));
}

std::string describe_run_config() {
  RunConfig cfg;
  RunConfig defaults;
  std::vector<std::unique_ptr<json>> owned;
  std::vector<Bound> bounds = {
      {"", &top_section().keys(), &cfg, &defaults},
      {"model", &models::model_choice_section().keys(), &cfg.model, &defaults.model},
  };
  auto defaults_of = [&](json j) {
    owned.push_back(std::make_unique<json>(std::move(j)));
    return owned.back().get();
  };
  for (const models::ArchitectureInfo& a : models::architectures()) {
    json* d = defaults_of(a.defaults());
    bounds.push_back({"model", &a.keys(), d, d, "model: architecture " + a.name});
  }
  for (const nn::MixerInfo& m : nn::mixers()) {
    json* d = defaults_of(m.defaults());
    bounds.push_back({"model", &m.keys(), d, d, "model: mixer " + m.name});
  }
  bounds.push_back({"training", &train::TrainingConfig::section().keys(), &cfg.training, &defaults.training});
  bounds.push_back({"optimizer", &train::OptimizerConfig::section().keys(), &cfg.optimizer, &defaults.optimizer});
  bounds.push_back({"scheduler", &train::SchedulerConfig::section().keys(), &cfg.scheduler, &defaults.scheduler});
  bounds.push_back({"dataset", &dataset_choice_section().keys(), &cfg.dataset, &defaults.dataset});
  // Data sets with the same keys share one list.
  std::vector<std::pair<const std::vector<schema::Key>*, std::vector<std::string>>> groups;
  for (const TaskInfo& t : task_infos()) {
    const std::vector<schema::Key>* keys = &t.keys();
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == keys; });
    if (it == groups.end()) groups.push_back({keys, {t.name}});
    else it->second.push_back(t.name);
  }
  for (const auto& [keys, names] : groups) {
    json* d = defaults_of(task_info(names[0]).defaults());
    std::string title;
    for (const std::string& n : names) title += (title.empty() ? "" : ", ") + n;
    bounds.push_back({"dataset", keys, d, d, "dataset: " + title});
  }

  std::string out =
      "Training config keys (YAML). Each value overrides the one before it:\n"
      "  defaults < model.preset < the config file < --set key=value\n"
      "The model section holds the keys of its architecture and of its mixer, the dataset section\n"
      "those of its data set. Unknown keys, wrong types and out-of-range values are errors naming\n"
      "the key and line.\n";
  out += io::describe(bounds);
  out += "\nmodel.preset values (d_model, d_state, d_conv, expand, n_layer):\n";
  for (const models::Preset& p : models::model_presets()) {
    std::string v;
    for (const char* k : {"d_model", "d_state", "d_conv", "expand", "n_layer"})
      v += (v.empty() ? "" : ", ") + p.values.at(k).dump();
    out += "  " + p.name + ": " + v + "\n";
  }
  auto line = [](const std::string& name, const std::string& doc) {
    std::string head = "  " + name;
    head.resize(std::max<size_t>(head.size() + 1, 18), ' ');
    return head + doc + "\n";
  };
  out += "\nmodel.architecture values:\n";
  for (const models::ArchitectureInfo& a : models::architectures()) out += line(a.name, a.doc);
  out += "\nmodel.mixer values:\n";
  for (const nn::MixerInfo& m : nn::mixers()) out += line(m.name, m.doc);
  out += "\ndataset.name values:\n";
  for (const TaskInfo& t : task_infos()) out += line(t.name, t.doc);
  return out;
}

}  // namespace ssm::tasks
