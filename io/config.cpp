#include "io/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <variant>

#include "core/error.h"
#include "data/file.h"
#include "models/mamba_lm.h"

namespace ssm::io {

namespace {

// ---- enum names: the index of a name is the enum's value ---------------------------------------

using Names = std::vector<std::string>;

const Names& names(Arch) {
  static const Names n = {"mamba"};
  return n;
}
const Names& names(ModelPreset) {
  static const Names n = {"none", "small", "medium", "large"};
  return n;
}
const Names& names(Metric) {
  static const Names n = {"val_loss", "val_accuracy"};
  return n;
}
const Names& names(Precision) {
  static const Names n = {"fp32", "bf16", "fp16"};
  return n;
}
const Names& names(OptimizerName) {
  static const Names n = {"adamw"};
  return n;
}
const Names& names(SchedulerName) {
  static const Names n = {"constant", "linear", "cosine", "reduce_on_plateau"};
  return n;
}
const Names& names(DatasetName) {
  static const Names n = {"piglatin_small", "piglatin_large", "austen_char", "tokens_file"};
  return n;
}
// The op's own enums, in their declaration order (a test checks them against the op's names).
const Names& names(Discretization) {
  static const Names n = {"zoh", "zoh_exact", "bilinear", "generalized_bilinear"};
  return n;
}
const Names& names(ScanAlgorithm) {
  static const Names n = {"sequential", "parallel", "log_space"};
  return n;
}

template <class E>
const char* enum_name(E v) {
  return names(v)[size_t(v)].c_str();
}

}  // namespace

const char* name_of(Arch v) { return enum_name(v); }
const char* name_of(ModelPreset v) { return enum_name(v); }
const char* name_of(Metric v) { return enum_name(v); }
const char* name_of(Precision v) { return enum_name(v); }
const char* name_of(OptimizerName v) { return enum_name(v); }
const char* name_of(SchedulerName v) { return enum_name(v); }
const char* name_of(DatasetName v) { return enum_name(v); }

const std::vector<ModelPresetInfo>& model_presets() {
  static const std::vector<ModelPresetInfo> p = {
      {ModelPreset::small, 256, 32, 4, 2, 4},
      {ModelPreset::medium, 512, 64, 4, 2, 8},
      {ModelPreset::large, 1024, 128, 5, 4, 16},
  };
  return p;
}

const std::vector<DatasetInfo>& dataset_infos() {
  static const std::vector<DatasetInfo> d = {
      {DatasetName::piglatin_small, "piglatin_small.tsv", 0.2, true,
       "English -> Pig Latin, 3,198 words of Sense and Sensibility"},
      {DatasetName::piglatin_large, "piglatin_large.tsv", 0.2, true,
       "English -> Pig Latin, 22,402 words: the small set plus frequent English words"},
      {DatasetName::austen_char, "austen.txt", 0.1, false,
       "byte-level language model on the six Austen novels (4.1 MB, built by ssm data build)"},
      {DatasetName::tokens_file, "", 0.1, false,
       "token ids, one sequence a line (dataset.path is the file; set model.vocab_size)"},
  };
  return d;
}

const DatasetInfo& dataset_info(DatasetName name) {
  for (const DatasetInfo& d : dataset_infos())
    if (d.name == name) return d;
  SSM_FAIL("dataset_info: unknown data set ", int(name));
}

namespace {

// ---- the schema ----------------------------------------------------------------------------------

enum class Type {
  integer,
  integer_or_auto,  // "auto" (or an empty value) is stored as 0
  number,
  boolean,
  string,
  choice,
  device,
  number_list,
  string_list,
  param_groups,
};

using Value = std::variant<int64_t, double, bool, std::string, std::vector<double>,
                           std::vector<std::string>, std::vector<ParamGroupConfig>>;

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Range {
  double lo = -kInf, hi = kInf;
  bool lo_open = false, hi_open = false;
};

Range at_least(double lo) { return {lo, kInf, false, false}; }
Range above(double lo) { return {lo, kInf, true, false}; }
Range between(double lo, double hi) { return {lo, hi, false, false}; }
Range open_between(double lo, double hi) { return {lo, hi, true, true}; }

struct Key {
  std::string section;  // "" at the top level
  std::string name;
  Type type = Type::integer;
  Range range;                 // integer, number, and each element of a number_list
  size_t list_size = 0;        // number_list: the exact length (0: any)
  Names choices;               // choice
  std::string doc;
  std::string default_doc;     // overrides the printed default when it is resolved on load
  std::function<Value(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const Value&)> set;
  // Keys that only mean something for some values of another key, `applies_key`: giving one
  // otherwise is an error, unless a --set changed applies_key after the file gave this key.
  std::function<bool(const TrainConfig&)> applies;
  std::string applies_key;
  std::string applies_doc;

  std::string path() const { return section.empty() ? name : section + "." + name; }
};

const Names kSections = {"model", "training", "optimizer", "scheduler", "dataset"};

bool is_section(const std::string& s) {
  return std::find(kSections.begin(), kSections.end(), s) != kSections.end();
}

// Conversions between fields and schema values; enums travel as their names.
Value to_value(int64_t v) { return v; }
Value to_value(double v) { return v; }
Value to_value(bool v) { return v; }
Value to_value(const std::string& v) { return v; }
Value to_value(const Device& v) { return v.str(); }
Value to_value(const std::vector<double>& v) { return v; }
Value to_value(const std::vector<std::string>& v) { return v; }
Value to_value(const std::vector<ParamGroupConfig>& v) { return v; }
template <class E>
  requires std::is_enum_v<E>
Value to_value(E v) {
  return names(v)[size_t(v)];
}

template <class T>
  requires(!std::is_enum_v<T>)
void from_value(const Value& v, T& out) {
  out = std::get<T>(v);
}
void from_value(const Value& v, Device& out) { out = parse_device(std::get<std::string>(v)); }
template <class E>
  requires std::is_enum_v<E>
void from_value(const Value& v, E& out) {
  const Names& n = names(out);
  out = E(std::find(n.begin(), n.end(), std::get<std::string>(v)) - n.begin());
}

template <class T>
Type type_of() {
  if constexpr (std::is_enum_v<T>) return Type::choice;
  else if constexpr (std::is_same_v<T, int64_t>) return Type::integer;
  else if constexpr (std::is_same_v<T, double>) return Type::number;
  else if constexpr (std::is_same_v<T, bool>) return Type::boolean;
  else if constexpr (std::is_same_v<T, std::string>) return Type::string;
  else if constexpr (std::is_same_v<T, Device>) return Type::device;
  else if constexpr (std::is_same_v<T, std::vector<double>>) return Type::number_list;
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return Type::string_list;
  else return Type::param_groups;
}

// KEY(model.d_model) gives the key's dotted path and an accessor of the field of that name.
#define KEY(field) #field, [](auto& c) -> auto& { return c.field; }

template <class Ref>
Key& add(std::vector<Key>& keys, const std::string& path, Ref ref, Range range, std::string doc) {
  using T = std::remove_cvref_t<decltype(ref(std::declval<TrainConfig&>()))>;
  Key k;
  size_t dot = path.find('.');
  if (dot != std::string::npos) {
    k.section = path.substr(0, dot);
    k.name = path.substr(dot + 1);
  } else {
    k.name = path;
  }
  k.type = type_of<T>();
  k.range = range;
  k.doc = std::move(doc);
  if constexpr (std::is_enum_v<T>) k.choices = names(T{});
  k.get = [ref](const TrainConfig& c) { return to_value(ref(c)); };
  k.set = [ref](TrainConfig& c, const Value& v) { from_value(v, ref(c)); };
  keys.push_back(std::move(k));
  return keys.back();
}

Key& add(std::vector<Key>& keys, const std::string& path, auto ref, std::string doc) {
  return add(keys, path, ref, Range{}, std::move(doc));
}

void only_when(Key& k, const std::string& key, std::function<bool(const TrainConfig&)> applies,
               const std::string& values) {
  k.applies = std::move(applies);
  k.applies_key = key;
  k.applies_doc = key + " is " + values;
}

bool is_piglatin(const TrainConfig& c) {
  return c.dataset.name == DatasetName::piglatin_small ||
         c.dataset.name == DatasetName::piglatin_large;
}

std::vector<Key> build_schema() {
  std::vector<Key> k;

  add(k, KEY(name), "run name, used in the default output_dir and in logs").default_doc =
      "the config file's name without extension";
  add(k, KEY(seed), at_least(0),
      "seed of initialisation, data order and dropout; same seed, same run on the CPU");
  add(k, KEY(output_dir),
      "run directory: a loadable model dir (best model) with checkpoints/ inside")
      .default_doc = "runs/<name>";
  add(k, KEY(device), "where to train: auto is the first GPU when one is visible, else the CPU")
      .default_doc = "auto";

  add(k, KEY(model.preset),
      "size preset filling d_model, d_state, d_conv, expand, n_layer (see the presets below); "
      "keys given explicitly override it");
  add(k, KEY(model.arch), "model architecture");
  add(k, KEY(model.d_model), at_least(1), "width of the residual stream (HF hidden_size)");
  add(k, KEY(model.d_state), at_least(1),
      "SSM state size N per channel (HF state_size); must be <= d_model");
  add(k, KEY(model.d_conv), between(2, 8), "width of the causal depthwise conv (HF conv_kernel)");
  add(k, KEY(model.expand), at_least(1), "inner width factor: d_inner = expand * d_model");
  add(k, KEY(model.d_inner), at_least(1),
      "inner width; derived as expand * d_model, give it only to assert that value")
      .type = Type::integer_or_auto;
  add(k, KEY(model.n_layer), at_least(1), "number of Mamba blocks (HF num_hidden_layers)");
  add(k, KEY(model.dt_rank), at_least(1), "rank of the Δ projection; auto: ceil(d_model / 16)")
      .type = Type::integer_or_auto;
  add(k, KEY(model.vocab_size), at_least(1),
      "embedding rows; auto: the tokenizer's size (31 for Pig Latin, 256 for bytes); "
      "may be larger than the tokenizer (padding)")
      .type = Type::integer_or_auto;
  add(k, KEY(model.discretization),
      "continuous -> discrete SSM: zoh (Mamba's), zoh_exact, bilinear, generalized_bilinear");
  only_when(add(k, KEY(model.alpha), between(0, 1),
                "generalized_bilinear's α: 1 forward Euler, 0 backward Euler, 0.5 bilinear"),
            "model.discretization",
            [](const TrainConfig& c) {
              return c.model.discretization == Discretization::generalized_bilinear;
            },
            "generalized_bilinear");
  add(k, KEY(model.scan),
      "scan algorithm: sequential, parallel (chunks across threads), log_space (Heinsen); "
      "log_space needs Ā > 0, which zoh and zoh_exact guarantee");
  add(k, KEY(model.scan_chunk), at_least(1),
      "time steps between states kept for backward, and the parallel scan's chunk length");
  add(k, KEY(model.dt_min), above(0), "Δ initialisation: log-uniform in [dt_min, dt_max]");
  add(k, KEY(model.dt_max), above(0), "Δ initialisation upper bound; dt_min <= dt_max");
  add(k, KEY(model.dt_init_floor), at_least(0), "Δ initialisation floor");
  add(k, KEY(model.dt_scale), above(0), "scale of the dt_proj weight initialisation");
  add(k, KEY(model.initializer_range), above(0), "embeddings ~ N(0, initializer_range)");
  add(k, KEY(model.layer_norm_epsilon), above(0), "RMSNorm epsilon");
  add(k, KEY(model.residual_in_fp32), "keep the residual stream in float32");
  add(k, KEY(model.use_bias), "biases on in_proj and out_proj");
  add(k, KEY(model.use_conv_bias), "bias on the causal conv");
  add(k, KEY(model.tie_embeddings), "LM head shares the embedding matrix (HF tie_word_embeddings)");

  add(k, KEY(training.max_steps), at_least(0),
      "optimizer steps to train; 0: no step limit. Training stops at whichever of max_steps "
      "and epochs is reached first; at least one must be set");
  add(k, KEY(training.epochs), at_least(0), "passes over the training set; 0: no epoch limit");
  add(k, KEY(training.batch_size), at_least(1),
      "sequences per micro-batch (Pig Latin: at most this many words of one length)");
  add(k, KEY(training.grad_accum_steps), at_least(1),
      "micro-batches whose gradients are summed into one optimizer step");
  add(k, KEY(training.grad_clip), at_least(0),
      "clip gradients to this global L2 norm; 0: no clipping");
  add(k, KEY(training.eval_every), at_least(0),
      "optimizer steps between evaluations; 0: at the end of every epoch");
  add(k, KEY(training.eval_batches), at_least(0),
      "validation batches per evaluation; 0: the whole validation set");
  add(k, KEY(training.log_every), at_least(1), "optimizer steps between log lines");
  add(k, KEY(training.checkpoint_every), at_least(0),
      "optimizer steps between checkpoints; 0: at every evaluation");
  add(k, KEY(training.early_stopping_patience), at_least(0),
      "stop after this many evaluations without improvement; 0: never");
  add(k, KEY(training.early_stopping_metric),
      "validation metric that picks the best model and drives early stopping; val_accuracy "
      "(whole-word accuracy) only for the Pig-Latin data sets");
  add(k, KEY(training.gradient_checkpointing),
      "recompute each layer's activations in backward to save memory");
  add(k, KEY(training.threads), at_least(0), "CPU threads; 0: all cores");
  add(k, KEY(training.precision), "compute precision; bf16 and fp16 need a CUDA device");

  add(k, KEY(optimizer.name), "optimizer (AdamW with decoupled weight decay)");
  add(k, KEY(optimizer.lr), above(0), "peak learning rate");
  add(k, KEY(optimizer.betas), Range{0, 1, false, true}, "AdamW [beta1, beta2]").list_size = 2;
  add(k, KEY(optimizer.eps), above(0), "AdamW epsilon");
  add(k, KEY(optimizer.weight_decay), at_least(0), "decoupled weight decay");
  add(k, KEY(optimizer.no_decay),
      "parameter name patterns without weight decay ('*' any run, '?' one character; quote "
      "them in YAML): biases, norms, A_log and D by default");
  add(k, KEY(optimizer.param_groups),
      "a parameter takes the first group whose pattern matches its name; lr_scale multiplies "
      "lr, weight_decay (optional) replaces optimizer.weight_decay and no_decay for the group");

  add(k, KEY(scheduler.name),
      "learning-rate schedule after warmup: constant, linear or cosine decay to "
      "min_lr_ratio * lr at the last step, reduce_on_plateau on the validation loss");
  add(k, KEY(scheduler.warmup_steps), at_least(0),
      "linear warmup from 0 to lr over this many optimizer steps");
  only_when(add(k, KEY(scheduler.min_lr_ratio), between(0, 1),
                "final (linear, cosine) or lowest (reduce_on_plateau) lr, as a share of lr"),
            "scheduler.name",
            [](const TrainConfig& c) { return c.scheduler.name != SchedulerName::constant; },
            "linear, cosine or reduce_on_plateau");
  auto plateau = [](const TrainConfig& c) {
    return c.scheduler.name == SchedulerName::reduce_on_plateau;
  };
  const char* plateau_doc = "reduce_on_plateau";
  only_when(add(k, KEY(scheduler.plateau_factor), open_between(0, 1),
                "multiply lr by this when the validation loss stops improving"),
            "scheduler.name", plateau, plateau_doc);
  only_when(add(k, KEY(scheduler.plateau_patience), at_least(0),
                "evaluations without improvement before lr is reduced"),
            "scheduler.name", plateau, plateau_doc);
  only_when(add(k, KEY(scheduler.plateau_threshold), at_least(0),
                "relative improvement of the validation loss that counts as one"),
            "scheduler.name", plateau, plateau_doc);

  add(k, KEY(dataset.name), "the data set (see the list below)");
  add(k, KEY(dataset.path),
      "data directory holding the built data sets (\"\": data), or the data file itself; "
      "relative paths are from the working directory");
  add(k, KEY(dataset.val_fraction), open_between(0, 1),
      "share held out for validation (Pig Latin: a seeded permutation; text: the end)")
      .default_doc = "0.2 for Pig Latin, 0.1 otherwise";
  only_when(add(k, KEY(dataset.split_seed), at_least(0),
                "seed of the train / validation split, apart from seed so runs with different "
                "seeds validate on the same words"),
            "dataset.name", is_piglatin, "piglatin_small or piglatin_large");
  only_when(add(k, KEY(dataset.seq_len), at_least(2),
                "tokens per training window and evaluation chunk; longer sequences are split"),
            "dataset.name", [](const TrainConfig& c) { return !is_piglatin(c); },
            "austen_char or tokens_file");
  return k;
}

#undef KEY

const std::vector<Key>& schema() {
  static const std::vector<Key> s = build_schema();
  return s;
}

const Key* find_key(const std::string& section, const std::string& name) {
  for (const Key& k : schema())
    if (k.section == section && k.name == name) return &k;
  return nullptr;
}

// ---- suggestions for unknown keys ----------------------------------------------------------------

// Names other tools (and the seeds' READMEs) use for our keys.
const std::vector<std::pair<std::string, std::string>>& aliases() {
  static const std::vector<std::pair<std::string, std::string>> a = {
      {"hidden_dim", "model.d_model"},
      {"hidden_size", "model.d_model"},
      {"dim", "model.d_model"},
      {"state_dim", "model.d_state"},
      {"state_size", "model.d_state"},
      {"num_layers", "model.n_layer"},
      {"n_layers", "model.n_layer"},
      {"num_hidden_layers", "model.n_layer"},
      {"layers", "model.n_layer"},
      {"conv_kernel", "model.d_conv"},
      {"kernel_size", "model.d_conv"},
      {"expand_factor", "model.expand"},
      {"time_step_rank", "model.dt_rank"},
      {"time_step_min", "model.dt_min"},
      {"time_step_max", "model.dt_max"},
      {"time_step_floor", "model.dt_init_floor"},
      {"time_step_scale", "model.dt_scale"},
      {"tie_word_embeddings", "model.tie_embeddings"},
      {"use_parallel_scan", "model.scan"},
      {"type", "model.arch"},
      {"architecture", "model.arch"},
      {"num_epochs", "training.epochs"},
      {"steps", "training.max_steps"},
      {"total_steps", "training.max_steps"},
      {"gradient_accumulation_steps", "training.grad_accum_steps"},
      {"max_grad_norm", "training.grad_clip"},
      {"clip_grad_norm", "training.grad_clip"},
      {"logging_steps", "training.log_every"},
      {"save_steps", "training.checkpoint_every"},
      {"eval_steps", "training.eval_every"},
      {"mixed_precision", "training.precision"},
      {"patience", "training.early_stopping_patience"},
      {"learning_rate", "optimizer.lr"},
      {"epsilon", "optimizer.eps"},
      {"beta1", "optimizer.betas"},
      {"beta2", "optimizer.betas"},
      {"type", "optimizer.name"},
      {"type", "scheduler.name"},
      {"warmup", "scheduler.warmup_steps"},
      {"num_warmup_steps", "scheduler.warmup_steps"},
      {"patience", "scheduler.plateau_patience"},
      {"factor", "scheduler.plateau_factor"},
      {"threshold", "scheduler.plateau_threshold"},
      {"type", "dataset.name"},
      {"data_path", "dataset.path"},
      {"data_dir", "dataset.path"},
      {"val_split", "dataset.val_fraction"},
      {"validation_split", "dataset.val_fraction"},
      {"max_seq_len", "dataset.seq_len"},
      {"max_length", "dataset.seq_len"},
      {"seq_length", "dataset.seq_len"},
      {"block_size", "dataset.seq_len"},
      {"output", "output_dir"},
      {"out_dir", "output_dir"},
      {"random_seed", "seed"},
  };
  return a;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Optimal string alignment distance: insertions, deletions, substitutions, transpositions.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// How far a typo may be from the word it was meant to be.
size_t close_enough(const std::string& word) {
  return word.size() <= 3 ? 1 : word.size() <= 8 ? 2 : 3;
}

// The closest names in `candidates` (name -> what to suggest) within `limit` edits.
std::vector<std::string> closest(const std::string& word,
                                 const std::vector<std::pair<std::string, std::string>>& candidates,
                                 size_t limit) {
  std::vector<std::string> best;
  size_t best_d = limit;
  for (const auto& [name, shown] : candidates) {
    size_t d = edit_distance(lower(word), lower(name));
    if (d > best_d) continue;
    if (d < best_d) {
      best_d = d;
      best.clear();
    }
    if (std::find(best.begin(), best.end(), shown) == best.end()) best.push_back(shown);
  }
  return best;
}

// The same, within the distance a typo of `word` may have.
std::vector<std::string> closest(const std::string& word,
                                 const std::vector<std::pair<std::string, std::string>>& candidates) {
  return closest(word, candidates, close_enough(word));
}

std::string join_quoted(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + "'" + v[i] + "'";
  return out;
}

// "; did you mean 'lr'?" for an unknown key `name` in `section` ("" at the top level).
std::string suggest(const std::string& section, const std::string& name) {
  std::vector<std::pair<std::string, std::string>> here, elsewhere;
  auto shown = [&](const std::string& path) {
    size_t dot = path.find('.');
    std::string sec = dot == std::string::npos ? "" : path.substr(0, dot);
    return sec == section ? (dot == std::string::npos ? path : path.substr(dot + 1)) : path;
  };
  auto in_section = [&](const std::string& path) {
    size_t dot = path.find('.');
    return (dot == std::string::npos ? "" : path.substr(0, dot)) == section;
  };
  for (const Key& k : schema()) (k.section == section ? here : elsewhere).push_back({k.name, shown(k.path())});
  for (const auto& [alias, target] : aliases())
    (in_section(target) ? here : elsewhere).push_back({alias, shown(target)});
  if (section.empty())
    for (const std::string& s : kSections) here.push_back({s, s});
  // Another tool's name for a key here, then a key (or name) of another section spelled
  // exactly, then a typo of a key here, then a typo of a key elsewhere.
  std::vector<std::string> best = closest(name, here, 0);
  if (best.empty()) best = closest(name, elsewhere, 0);
  if (best.empty()) best = closest(name, here);
  if (best.empty()) best = closest(name, elsewhere);
  if (best.empty()) return "";
  return "; did you mean " + join_quoted(best, " or ") + "?";
}

// ---- where values come from ----------------------------------------------------------------------

// Names the origin of a YAML node: "at config.yaml:12:7" or "in --set optimizer.lr=fast".
struct Where {
  std::string file;
  std::string set_arg;  // non-empty for --set values
  YAML::Mark fallback;  // the key's mark, for empty values that have none of their own

  std::string at(const YAML::Node& n) const {
    if (!set_arg.empty()) return "in --set " + set_arg;
    YAML::Mark m = n.IsNull() || n.Mark().is_null() ? fallback : n.Mark();
    return at_mark(m);
  }
  std::string at_mark(const YAML::Mark& m) const {
    if (!set_arg.empty()) return "in --set " + set_arg;
    return "at " + file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
};

[[noreturn]] void bad(const std::string& path, const std::string& at, const std::string& what) {
  SSM_FAIL(path, " ", at, ": ", what);
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "'" + s + "'";
    }
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing (an empty value)";
  }
}

std::string fmt(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::string fmt_range(const Range& r) {
  bool lo = r.lo != -kInf, hi = r.hi != kInf;
  if (lo && hi)
    return std::string("in ") + (r.lo_open ? "(" : "[") + fmt(r.lo) + ", " + fmt(r.hi) +
           (r.hi_open ? ")" : "]");
  if (lo) return (r.lo_open ? "> " : ">= ") + fmt(r.lo);
  if (hi) return (r.hi_open ? "< " : "<= ") + fmt(r.hi);
  return "";
}

void check_range(const Range& r, double x, const std::string& path, const std::string& at) {
  bool ok = (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi);
  if (!ok) bad(path, at, "must be " + fmt_range(r) + ", got " + fmt(x));
}

bool parse_number(const std::string& text, double& out) {
  std::string s = text;
  if (!s.empty() && s[0] == '+') s = s.substr(1);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

// Integers, also written as exact floats ("1e4").
bool parse_integer(const std::string& text, int64_t& out) {
  std::string s = text;
  if (!s.empty() && s[0] == '+') s = s.substr(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) return true;
  double x;
  if (!parse_number(text, x) || x != std::floor(x) || std::fabs(x) > 9e15) return false;
  out = int64_t(x);
  return true;
}

bool parse_bool(const std::string& s, bool& out) {
  static const std::set<std::string> yes = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const std::set<std::string> no = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  if (yes.count(s)) out = true;
  else if (no.count(s)) out = false;
  else return false;
  return true;
}

const std::string& scalar(const YAML::Node& n, const std::string& expected, const std::string& path,
                          const Where& w) {
  if (!n.IsScalar()) bad(path, w.at(n), "expected " + expected + ", got " + describe(n));
  return n.Scalar();
}

double number(const YAML::Node& n, const Range& range, const std::string& path, const Where& w) {
  double x;
  if (!parse_number(scalar(n, "a number", path, w), x))
    bad(path, w.at(n), "expected a number, got " + describe(n));
  check_range(range, x, path, w.at(n));
  return x;
}

// Checks one param_groups entry's values; `at` locates it (empty for configs built in code).
void check_group(const ParamGroupConfig& g, const std::string& path, const std::string& at) {
  if (g.pattern.empty()) bad(path, at, "needs a non-empty pattern");
  check_range(above(0), g.lr_scale, path + ".lr_scale", at);
  if (g.weight_decay) check_range(at_least(0), *g.weight_decay, path + ".weight_decay", at);
}

std::vector<ParamGroupConfig> param_groups(const YAML::Node& n, const std::string& path,
                                           const Where& w) {
  if (!n.IsSequence())
    bad(path, w.at(n), "expected a list of {pattern, lr_scale, weight_decay}, got " + describe(n));
  std::vector<ParamGroupConfig> out;
  for (size_t i = 0; i < n.size(); ++i) {
    YAML::Node g = n[i];
    std::string gp = path + "[" + std::to_string(i) + "]";
    if (!g.IsMap()) bad(gp, w.at(g), "expected a map {pattern, lr_scale, weight_decay}, got " + describe(g));
    ParamGroupConfig pg;
    std::map<std::string, YAML::Mark> seen;
    for (auto it = g.begin(); it != g.end(); ++it) {
      std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
      std::string kp = gp + "." + name;
      Where kw = w;
      kw.fallback = it->first.Mark();
      if (auto s = seen.find(name); s != seen.end())
        SSM_FAIL("duplicate key '", kp, "' ", w.at_mark(it->first.Mark()), " (first ",
                 w.at_mark(s->second), ")");
      seen[name] = it->first.Mark();
      if (name == "pattern") {
        pg.pattern = scalar(it->second, "a name pattern", kp, kw);
      } else if (name == "lr_scale") {
        pg.lr_scale = number(it->second, above(0), kp, kw);
      } else if (name == "weight_decay") {
        pg.weight_decay = number(it->second, at_least(0), kp, kw);
      } else {
        std::vector<std::string> best = closest(
            name, {{"pattern", "pattern"}, {"lr_scale", "lr_scale"}, {"weight_decay", "weight_decay"}});
        SSM_FAIL("unknown key '", kp, "' ", w.at_mark(it->first.Mark()),
                 "; a param group has pattern, lr_scale and weight_decay",
                 best.empty() ? "" : "; did you mean " + join_quoted(best, " or ") + "?");
      }
    }
    if (pg.pattern.empty()) bad(gp, w.at(g), "needs a non-empty pattern");
    out.push_back(pg);
  }
  return out;
}

// Parses and checks the value of `k` from `n`.
Value parse_value(const Key& k, const YAML::Node& n, const Where& w) {
  const std::string path = k.path();
  switch (k.type) {
    case Type::integer:
    case Type::integer_or_auto: {
      bool auto_ok = k.type == Type::integer_or_auto;
      if (auto_ok && (n.IsNull() || (n.IsScalar() && n.Scalar() == "auto"))) return int64_t(0);
      std::string expected = auto_ok ? "an integer or auto" : "an integer";
      int64_t v;
      if (!parse_integer(scalar(n, expected, path, w), v))
        bad(path, w.at(n), "expected " + expected + ", got " + describe(n));
      check_range(k.range, double(v), path, w.at(n));
      return v;
    }
    case Type::number: return number(n, k.range, path, w);
    case Type::boolean: {
      bool b;
      if (!parse_bool(scalar(n, "true or false", path, w), b))
        bad(path, w.at(n), "expected true or false, got " + describe(n));
      return b;
    }
    case Type::string: return scalar(n, "a string", path, w);
    case Type::choice: {
      std::string list;
      for (const std::string& c : k.choices) list += (list.empty() ? "" : ", ") + c;
      const std::string& s = scalar(n, "one of " + list, path, w);
      if (std::find(k.choices.begin(), k.choices.end(), s) != k.choices.end()) return s;
      std::vector<std::pair<std::string, std::string>> cands;
      for (const std::string& c : k.choices) cands.push_back({c, c});
      std::vector<std::string> best = closest(s, cands);
      bad(path, w.at(n), "expected one of " + list + ", got " + describe(n) +
                             (best.empty() ? "" : "; did you mean " + join_quoted(best, " or ") + "?"));
    }
    case Type::device: {
      const std::string& s = scalar(n, "auto, cpu, cuda or cuda:N", path, w);
      try {
        parse_device(s);
      } catch (const Error&) {
        bad(path, w.at(n), "expected auto, cpu, cuda or cuda:N, got " + describe(n));
      }
      return s;
    }
    case Type::number_list: {
      std::string expected = "a list of " +
                             (k.list_size ? std::to_string(k.list_size) + " numbers" : "numbers");
      if (!n.IsSequence() || (k.list_size && n.size() != k.list_size))
        bad(path, w.at(n), "expected " + expected + ", got " + describe(n) +
                               (n.IsSequence() ? " of " + std::to_string(n.size()) : ""));
      std::vector<double> out;
      for (size_t i = 0; i < n.size(); ++i)
        out.push_back(number(n[i], k.range, path + "[" + std::to_string(i) + "]", w));
      return out;
    }
    case Type::string_list: {
      if (!n.IsSequence()) bad(path, w.at(n), "expected a list of strings, got " + describe(n));
      std::vector<std::string> out;
      for (size_t i = 0; i < n.size(); ++i) {
        std::string ep = path + "[" + std::to_string(i) + "]";
        out.push_back(scalar(n[i], "a string", ep, w));
        if (out.back().empty()) bad(ep, w.at(n[i]), "must not be empty");
      }
      return out;
    }
    case Type::param_groups: return param_groups(n, path, w);
  }
  SSM_FAIL("config: unhandled type of ", path);
}

// The single-key checks for a value of `k` built in code (types are right by construction).
void check_value(const Key& k, const Value& v) {
  const std::string path = k.path();
  switch (k.type) {
    case Type::integer: check_range(k.range, double(std::get<int64_t>(v)), path, "in the config"); break;
    case Type::integer_or_auto:
      if (std::get<int64_t>(v) != 0)
        check_range(k.range, double(std::get<int64_t>(v)), path, "in the config");
      break;
    case Type::number: check_range(k.range, std::get<double>(v), path, "in the config"); break;
    case Type::number_list: {
      const auto& l = std::get<std::vector<double>>(v);
      if (k.list_size && l.size() != k.list_size)
        bad(path, "in the config", "expected a list of " + std::to_string(k.list_size) +
                                       " numbers, got " + std::to_string(l.size()));
      for (size_t i = 0; i < l.size(); ++i)
        check_range(k.range, l[i], path + "[" + std::to_string(i) + "]", "in the config");
      break;
    }
    case Type::string_list: {
      const auto& l = std::get<std::vector<std::string>>(v);
      for (size_t i = 0; i < l.size(); ++i)
        if (l[i].empty()) bad(path + "[" + std::to_string(i) + "]", "in the config", "must not be empty");
      break;
    }
    case Type::param_groups: {
      const auto& l = std::get<std::vector<ParamGroupConfig>>(v);
      for (size_t i = 0; i < l.size(); ++i)
        check_group(l[i], path + "[" + std::to_string(i) + "]", "in the config");
      break;
    }
    default: break;
  }
}

// ---- cross-field checks --------------------------------------------------------------------------

// Where each explicitly given key came from ("at config.yaml:4:12", "in --set ...",
// "from model.preset 'small' at ...").
using Origins = std::map<std::string, std::string>;

// "model.d_state at config.yaml:4:12: must be <= ... (model.d_model at config.yaml:3:12)"
[[noreturn]] void cross_fail(const Origins& o, const std::string& path,
                             std::initializer_list<std::string> related, const std::string& msg) {
  std::string out = path;
  if (auto it = o.find(path); it != o.end()) out += " " + it->second;
  out += ": " + msg;
  std::string rel;
  for (const std::string& r : related)
    if (auto it = o.find(r); it != o.end()) rel += (rel.empty() ? "" : ", ") + r + " " + it->second;
  if (!rel.empty()) out += " (" + rel + ")";
  throw Error(out);
}

void check_cross(const TrainConfig& c, const Origins& o) {
  const ModelConfig& m = c.model;
  if (m.d_state > m.d_model)
    cross_fail(o, "model.d_state", {"model.d_model"},
               "must be <= model.d_model (" + std::to_string(m.d_model) + "), got " +
                   std::to_string(m.d_state));
  if (m.d_inner != 0 && m.d_inner != m.inner_dim())
    cross_fail(o, "model.d_inner", {"model.expand", "model.d_model"},
               "must equal model.expand * model.d_model = " + std::to_string(m.expand) + " * " +
                   std::to_string(m.d_model) + " = " + std::to_string(m.inner_dim()) + ", got " +
                   std::to_string(m.d_inner) + "; leave it out (or auto) to derive it");
  if (m.dt_min > m.dt_max)
    cross_fail(o, "model.dt_min", {"model.dt_max"},
               "must be <= model.dt_max (" + fmt(m.dt_max) + "), got " + fmt(m.dt_min));

  const TrainingConfig& t = c.training;
  if (t.max_steps == 0 && t.epochs == 0)
    cross_fail(o, "training.max_steps", {"training.epochs"},
               "training.max_steps and training.epochs are both 0 (no limit); set one of them "
               "(training stops at whichever is reached first)");
  if (t.max_steps > 0 && c.scheduler.warmup_steps > t.max_steps)
    cross_fail(o, "scheduler.warmup_steps", {"training.max_steps"},
               "must be <= training.max_steps (" + std::to_string(t.max_steps) + "), got " +
                   std::to_string(c.scheduler.warmup_steps));
  if (t.precision != Precision::fp32 && !c.device.is_cuda())
    cross_fail(o, "training.precision", {"device"},
               std::string(name_of(t.precision)) + " needs a CUDA device, device is " +
                   c.device.str() + "; the CPU trains in fp32");
  if (t.early_stopping_metric == Metric::val_accuracy && !dataset_info(c.dataset.name).word_accuracy)
    cross_fail(o, "training.early_stopping_metric", {"dataset.name"},
               std::string("val_accuracy is measured on the Pig-Latin data sets only, dataset.name "
                           "is ") + name_of(c.dataset.name) + "; use val_loss");

  if (c.dataset.name == DatasetName::tokens_file) {
    if (c.dataset.path.empty())
      cross_fail(o, "dataset.path", {"dataset.name"},
                 "tokens_file needs dataset.path, the file of token ids");
    if (m.vocab_size == 0)
      cross_fail(o, "model.vocab_size", {"dataset.name"},
                 "tokens_file has no tokenizer; set model.vocab_size above every token id");
  }
}

// ---- loading -------------------------------------------------------------------------------------

struct Assignment {
  const Key* key;
  YAML::Node value;
  Where where;
};

std::string first_key_of(const std::string& section) {
  for (const Key& k : schema())
    if (k.section == section) return k.name;
  return "";
}

void collect_section(const YAML::Node& map, const std::string& section, const Where& w,
                     std::vector<Assignment>& out) {
  std::map<std::string, YAML::Mark> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node kn = it->first;
    if (!kn.IsScalar())
      SSM_FAIL(w.file, ":", kn.Mark().line + 1, ":", kn.Mark().column + 1,
               ": keys must be plain names, got ", describe(kn));
    const std::string name = kn.Scalar();
    const std::string path = section.empty() ? name : section + "." + name;
    if (auto s = seen.find(name); s != seen.end())
      SSM_FAIL("duplicate key '", path, "' ", w.at_mark(kn.Mark()), " (first ",
               w.at_mark(s->second), ")");
    seen[name] = kn.Mark();
    Where vw = w;
    vw.fallback = kn.Mark();
    if (section.empty() && is_section(name)) {
      const YAML::Node sec = it->second;
      if (sec.IsNull()) continue;  // an empty section
      if (!sec.IsMap())
        SSM_FAIL("section '", name, "' ", vw.at(sec), " must be a map of keys (e.g. ", name, ".",
                 first_key_of(name), "), got ", describe(sec));
      collect_section(sec, name, w, out);
      continue;
    }
    const Key* k = find_key(section, name);
    if (!k) SSM_FAIL("unknown key '", path, "' ", w.at_mark(kn.Mark()), suggest(section, name));
    out.push_back({k, it->second, vw});
  }
}

std::vector<Assignment> collect_file(const std::string& text, const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) SSM_FAIL(source, ": invalid YAML: ", e.msg);
    SSM_FAIL(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
  SSM_CHECK(docs.size() <= 1, source, ": holds ", docs.size(),
            " YAML documents (separated by ---); a config is one");
  std::vector<Assignment> out;
  if (docs.empty() || docs[0].IsNull()) return out;
  const YAML::Node& root = docs[0];
  if (!root.IsMap())
    SSM_FAIL(source, ":", root.Mark().line + 1, ":", root.Mark().column + 1,
             ": the top level must be a map of sections (model, training, optimizer, scheduler, "
             "dataset) and top-level keys, got ", describe(root));
  Where w;
  w.file = source;
  collect_section(root, "", w, out);
  return out;
}

Assignment collect_set(const std::string& arg) {
  size_t eq = arg.find('=');
  SSM_CHECK(eq != std::string::npos && eq > 0, "--set '", arg,
            "': expected key=value, e.g. --set optimizer.lr=3e-3");
  std::string path = arg.substr(0, eq), text = arg.substr(eq + 1);
  while (!path.empty() && path.back() == ' ') path.pop_back();
  Where w;
  w.set_arg = arg;
  if (is_section(path))
    SSM_FAIL("--set ", arg, ": '", path, "' is a section; set one of its keys, e.g. --set ", path,
             ".", first_key_of(path), "=...");
  size_t dot = path.find('.');
  std::string section = dot == std::string::npos ? "" : path.substr(0, dot);
  std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
  const Key* k = nullptr;
  if (section.empty() || is_section(section)) k = find_key(section, name);
  if (!k) {
    std::string hint = is_section(section) || section.empty() ? suggest(section, name)
                                                              : suggest("", section);
    SSM_FAIL("unknown key '", path, "' in --set ", arg, hint);
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SSM_FAIL(path, " in --set ", arg, ": invalid YAML value: ", e.msg);
  }
  return {k, value, w};
}

// Applies the assignments over the defaults: presets and data-set defaults first, then every
// value in order (file, then --set), then the checks that involve several keys.
TrainConfig resolve(const std::vector<Assignment>& assignments, const std::string& source) {
  TrainConfig cfg;
  Origins origins;
  const Assignment* preset = nullptr;
  const Assignment* dataset = nullptr;
  for (const Assignment& a : assignments) {
    if (a.key->path() == "model.preset") preset = &a;
    if (a.key->path() == "dataset.name") dataset = &a;
  }
  if (preset) {
    preset->key->set(cfg, parse_value(*preset->key, preset->value, preset->where));
    for (const ModelPresetInfo& p : model_presets()) {
      if (p.preset != cfg.model.preset) continue;
      ModelConfig& m = cfg.model;
      m.d_model = p.d_model;
      m.d_state = p.d_state;
      m.d_conv = p.d_conv;
      m.expand = p.expand;
      m.n_layer = p.n_layer;
      std::string from = "from model.preset " + std::string(name_of(p.preset)) + " " +
                         preset->where.at(preset->value);
      for (const char* f : {"d_model", "d_state", "d_conv", "expand", "n_layer"})
        origins[std::string("model.") + f] = from;
    }
  }
  if (dataset) {
    dataset->key->set(cfg, parse_value(*dataset->key, dataset->value, dataset->where));
    cfg.dataset.val_fraction = dataset_info(cfg.dataset.name).val_fraction;
  }
  for (const Assignment& a : assignments) {
    a.key->set(cfg, parse_value(*a.key, a.value, a.where));
    origins[a.key->path()] = a.where.at(a.value);
  }
  const TrainConfig defaults;
  for (const Assignment& a : assignments) {
    if (!a.key->applies || a.key->applies(cfg)) continue;
    // `--set scheduler.name=constant` over a file with cosine settings drops those settings.
    bool switched_by_set = false;
    if (a.where.set_arg.empty())
      for (const Assignment& b : assignments)
        switched_by_set |= !b.where.set_arg.empty() && b.key->path() == a.key->applies_key;
    if (!switched_by_set)
      bad(a.key->path(), a.where.at(a.value),
          "only used when " + a.key->applies_doc + "; remove it or change " + a.key->applies_key);
    a.key->set(cfg, a.key->get(defaults));
    origins.erase(a.key->path());
  }
  if (cfg.name.empty()) cfg.name = std::filesystem::path(source).stem().string();
  if (cfg.output_dir.empty()) cfg.output_dir = "runs/" + cfg.name;
  check_cross(cfg, origins);
  return cfg;
}

// ---- writing -------------------------------------------------------------------------------------

void emit_value(YAML::Emitter& out, const Key& k, const Value& v) {
  switch (k.type) {
    case Type::integer: out << std::to_string(std::get<int64_t>(v)); break;
    case Type::integer_or_auto: {
      int64_t i = std::get<int64_t>(v);
      out << (i == 0 ? std::string("auto") : std::to_string(i));
      break;
    }
    case Type::number: out << fmt(std::get<double>(v)); break;
    case Type::boolean: out << (std::get<bool>(v) ? "true" : "false"); break;
    case Type::string: out << YAML::DoubleQuoted << std::get<std::string>(v); break;
    case Type::choice:
    case Type::device: out << std::get<std::string>(v); break;
    case Type::number_list:
      out << YAML::Flow << YAML::BeginSeq;
      for (double x : std::get<std::vector<double>>(v)) out << fmt(x);
      out << YAML::EndSeq;
      break;
    case Type::string_list:
      out << YAML::Flow << YAML::BeginSeq;
      for (const std::string& s : std::get<std::vector<std::string>>(v)) out << YAML::DoubleQuoted << s;
      out << YAML::EndSeq;
      break;
    case Type::param_groups: {
      const auto& groups = std::get<std::vector<ParamGroupConfig>>(v);
      if (groups.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const ParamGroupConfig& g : groups) {
        out << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "pattern" << YAML::Value << YAML::DoubleQuoted << g.pattern;
        out << YAML::Key << "lr_scale" << YAML::Value << fmt(g.lr_scale);
        if (g.weight_decay) out << YAML::Key << "weight_decay" << YAML::Value << fmt(*g.weight_decay);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
      break;
    }
  }
}

std::string value_text(const Key& k, const Value& v) {
  YAML::Emitter out;
  emit_value(out, k, v);
  return out.c_str();
}

// `text` as lines of at most `width` columns, each indented by `indent` spaces.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += std::string(indent, ' ') + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) out += std::string(indent, ' ') + line + "\n";
  return out;
}

std::string type_text(const Key& k) {
  std::string range = fmt_range(k.range);
  switch (k.type) {
    case Type::integer: return "int " + range;
    case Type::integer_or_auto: return "int " + range + " or auto";
    case Type::number: return range.empty() ? "number" : "number " + range;
    case Type::boolean: return "bool";
    case Type::string: return "string";
    case Type::choice: {
      std::string s;
      for (const std::string& c : k.choices) s += (s.empty() ? "" : " | ") + c;
      return s;
    }
    case Type::device: return "auto | cpu | cuda | cuda:N";
    case Type::number_list:
      return "list of " + (k.list_size ? std::to_string(k.list_size) + " " : "") + "numbers " + range;
    case Type::string_list: return "list of strings";
    case Type::param_groups: return "list of {pattern, lr_scale, weight_decay}";
  }
  return "";
}

}  // namespace

TrainConfig parse_config(const std::string& yaml, const std::string& source,
                         const std::vector<std::string>& overrides) {
  std::vector<Assignment> assignments = collect_file(yaml, source);
  for (const std::string& o : overrides) assignments.push_back(collect_set(o));
  return resolve(assignments, source);
}

TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  SSM_CHECK(std::filesystem::exists(path), "config file '", path, "' does not exist");
  return parse_config(data::read_file(path), path, overrides);
}

void validate(const TrainConfig& cfg) {
  for (const Key& k : schema()) check_value(k, k.get(cfg));
  check_cross(cfg, {});
}

std::string to_yaml(const TrainConfig& cfg) {
  YAML::Emitter out;
  out << YAML::Comment("ssm training config, fully resolved: every key that applies, in schema "
                       "order (ssm train --help-config)");
  out << YAML::BeginMap;
  std::string section;
  for (const Key& k : schema()) {
    if (k.applies && !k.applies(cfg)) continue;
    if (k.section != section) {
      if (!section.empty()) out << YAML::EndMap;
      section = k.section;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    }
    out << YAML::Key << k.name << YAML::Value;
    emit_value(out, k, k.get(cfg));
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void save_config(const std::string& path, const TrainConfig& cfg) {
  data::write_file_atomic(path, to_yaml(cfg));
}

std::string describe_schema() {
  const TrainConfig defaults;
  std::string out =
      "Training config keys (YAML). Each value overrides the one before it:\n"
      "  defaults < model.preset and dataset.name defaults < the config file < --set key=value\n"
      "Unknown keys, wrong types and out-of-range values are errors naming the key and line.\n";
  std::string section = "-";
  for (const Key& k : schema()) {
    if (k.section != section) {
      section = k.section;
      out += "\n" + (section.empty() ? std::string("top level") : section + ":") + "\n";
    }
    std::string def = k.default_doc.empty() ? value_text(k, k.get(defaults)) : k.default_doc;
    std::string head = "  " + k.name;
    head.resize(std::max<size_t>(head.size() + 1, 28), ' ');
    out += head + type_text(k) + "  (default " + def + ")\n";
    out += wrap(k.doc, 6, 100);
    if (k.applies) out += wrap("only when " + k.applies_doc, 6, 100);
  }
  out += "\nmodel.preset values (d_model, d_state, d_conv, expand, n_layer):\n";
  for (const ModelPresetInfo& p : model_presets())
    out += "  " + std::string(name_of(p.preset)) + ": " + std::to_string(p.d_model) + ", " +
           std::to_string(p.d_state) + ", " + std::to_string(p.d_conv) + ", " +
           std::to_string(p.expand) + ", " + std::to_string(p.n_layer) + "\n";
  out += "\ndataset.name values:\n";
  for (const DatasetInfo& d : dataset_infos()) {
    std::string head = "  " + std::string(name_of(d.name));
    head.resize(18, ' ');
    out += head + d.doc + "\n";
  }
  return out;
}

bool matches_pattern(const std::string& pattern, const std::string& name) {
  // Iterative glob with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string dataset_file(const DatasetConfig& ds) {
  const DatasetInfo& info = dataset_info(ds.name);
  if (ds.name == DatasetName::tokens_file) return ds.path;
  if (!ds.path.empty() && std::filesystem::is_regular_file(ds.path)) return ds.path;
  std::filesystem::path dir = ds.path.empty() ? "data" : ds.path;
  return (dir / info.file).string();
}

models::MambaLMConfig mamba_lm_config(const TrainConfig& cfg, int64_t tokenizer_vocab) {
  const ModelConfig& m = cfg.model;
  SSM_CHECK(m.vocab_size == 0 || m.vocab_size >= tokenizer_vocab, "model.vocab_size (",
            m.vocab_size, ") must be at least the tokenizer's size (", tokenizer_vocab, ")");
  models::MambaLMConfig out;
  out.vocab_size = m.vocab_size ? m.vocab_size : tokenizer_vocab;
  out.hidden_size = m.d_model;
  out.state_size = m.d_state;
  out.num_hidden_layers = m.n_layer;
  out.expand = m.expand;
  out.conv_kernel = m.d_conv;
  out.time_step_rank = m.dt_rank;
  out.layer_norm_epsilon = m.layer_norm_epsilon;
  out.use_bias = m.use_bias;
  out.use_conv_bias = m.use_conv_bias;
  out.residual_in_fp32 = m.residual_in_fp32;
  out.tie_word_embeddings = m.tie_embeddings;
  out.time_step_min = m.dt_min;
  out.time_step_max = m.dt_max;
  out.time_step_floor = m.dt_init_floor;
  out.time_step_scale = m.dt_scale;
  out.initializer_range = m.initializer_range;
  out.scan.discretization = m.discretization;
  out.scan.alpha = m.alpha;
  out.scan.algorithm = m.scan;
  out.scan.chunk = m.scan_chunk;
  out.validate();
  return out;
}

}  // namespace ssm::io
