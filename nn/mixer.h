// Sequence-mixing layers ("mixers"): what an architecture stacks between its norms and residual
// adds. Every mixer maps (B, L, d_model) -> (B, L, d_model) and can run step by step for decoding,
// and registers itself once in nn/mixers.cpp with its config keys (model.* in YAML, config.json
// names), its checks and its constructor.
//
// Adding a mixer: nn/<name>.{h,cpp} (the module, its config struct and section, its state) and one
// line in nn/mixers.cpp; docs/architecture.md has the recipe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/schema.h"
#include "nn/module.h"

namespace ssm::nn {

using schema::json;

// A mixer's recurrent state between decoding steps. Every tensor holds one row per sequence on
// dim 0, so decoders can reorder rows (beam search) or copy them in place (CUDA graphs).
class MixerState {
 public:
  virtual ~MixerState() = default;
  virtual std::vector<Tensor*> rows() = 0;
};

class Mixer : public Module {
 public:
  // x: (B, L, d_model) -> (B, L, d_model). seq_start (B, L), optional: nonzero where a packed
  // sequence starts; nothing crosses a start, so each packed sequence gives what it gives alone.
  virtual Tensor forward(const Tensor& x, const Tensor& seq_start = Tensor()) const = 0;
  // A zero state for `batch` sequences, on the parameters' device.
  virtual std::unique_ptr<MixerState> new_state(int64_t batch) const = 0;
  // forward(x) that also leaves `state` holding the state after the last position (prompts).
  virtual Tensor prefill(const Tensor& x, MixerState& state) const = 0;
  // One position: x (B, d_model) -> (B, d_model), updating `state` in O(1).
  virtual Tensor step(const Tensor& x, MixerState& state) const = 0;

  // For `ssm info`: forward FLOPs per token (2 per multiply-add), the decoding state per sequence
  // in elements, and a short description of the settings ("d_state 16, zoh, sequential scan").
  virtual double flops_per_token() const = 0;
  virtual int64_t state_elements() const = 0;
  virtual std::string summary() const = 0;
};

// What the architecture tells every mixer it builds.
struct MixerContext {
  int64_t d_model = 0;
  int64_t n_layer = 1;       // layers in the stack (Mamba scales out_proj by 1/sqrt(n_layer))
  DType dtype = DType::f32;  // parameter dtype
  // Whether position t may only see positions <= t (a language model). A mixer's `check` refuses
  // settings that look ahead (a bidirectional kernel or scan) where this is set.
  bool causal = true;
};

struct MixerInfo {
  std::string name;           // model.mixer in YAML, "ssm_mixer" in config.json
  std::string doc;            // one line for --help-config
  std::string model_type;     // config.json "model_type" of an LM over this mixer
  std::string hf_class;       // config.json "architectures" entry ("MambaForCausalLM")
  // The mixer's keys in the model section (YAML names, config.json names), reading and writing a
  // JSON object of options (schema::Section::json_keys).
  std::function<const std::vector<schema::Key>&()> keys;
  // The values of those keys when the options give none (the config struct's defaults).
  std::function<json()> defaults;
  // Cross-field problems of `options` (the model section's values) for this context.
  std::function<schema::Failures(const json& options, const MixerContext&)> check;
  std::function<std::shared_ptr<Mixer>(const json& options, const MixerContext&, Generator&)> create;
  // The parameters one mixer of these options holds, counted without building it; a double, as a
  // config may ask for more than int64 counts (architectures refuse a model that cannot fit).
  std::function<double(const json& options, const MixerContext&)> parameters;
  // config.json: keys the mixer writes beside its keys' own (derived sizes, fixed settings), and
  // the checks of a config.json it reads (unsupported settings are errors naming the key).
  std::function<void(const json& options, const MixerContext&, json& config)> write_json;
  std::function<void(const json& config, const std::string& source)> check_json;
};

// Every mixer, in nn/mixers.cpp's order.
const std::vector<MixerInfo>& mixers();
// The mixer called `name`; an ssm::Error naming the registered ones otherwise.
const MixerInfo& mixer_info(const std::string& name);
std::vector<std::string> mixer_names();

}  // namespace ssm::nn
