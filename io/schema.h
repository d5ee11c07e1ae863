// The YAML side of config schemas (core/schema.h): reading a config file and --set overrides into
// sections' structs, writing them back, and the --help-config text.
//
// Every error is an ssm::Error naming the dotted key, where the value came from
// ("config.yaml:12:7" or "--set optimizer.lr=fast") and what is expected; an unknown key also gets
// the nearest known key, including the names other tools use (a key's aliases). Values are
// applied in order (the file, then each --set), so the last one given for a key wins.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/schema.h"

namespace ssm::io {

using schema::json;

// A section's keys bound to the struct (or JSON object, schema::Section::json_keys) they set.
// Several Bound may share a section name: their keys together are the section's.
struct Bound {
  std::string section;  // "" for the top level
  const std::vector<schema::Key>* keys;
  void* target;
  const void* defaults;  // the same type as target, holding the defaults
  std::string title = "";  // describe(): the heading ("model: mixer mamba"); default the section
};

// Where each key's value came from, by dotted path: "at config.yaml:4:12", "in --set x=1",
// "from model.preset small at config.yaml:3:11".
using Origins = std::map<std::string, std::string>;

// A key that belongs to another choice of a selecting key (a key of another task, say): giving
// it is an error naming when it applies, unless a --set switched the selecting key away.
struct OtherChoiceKey {
  std::string selector;  // "dataset.name"
  std::string values;    // "austen_char or piglatin_large"
};

class ConfigDoc {
 public:
  // Parses a YAML config: a map of top-level keys and sections (`sections` names them), each a
  // map of keys. Errors: invalid YAML (with its line), several documents, a top level or a
  // section that is not a map, duplicate keys.
  // `sections`: each section's name and one of its keys, for the messages' examples.
  static ConfigDoc parse(const std::string& text, const std::string& source,
                         std::vector<std::pair<std::string, std::string>> sections);
  ConfigDoc(ConfigDoc&&) noexcept;
  ConfigDoc& operator=(ConfigDoc&&) noexcept;
  ~ConfigDoc();

  // Adds `--set key=value` (the value parsed as YAML). Errors: not key=value, a section name.
  void add_override(const std::string& arg);

  // The last value given for `path`, checked against `key`, and its origin; nullopt when none
  // is given. For the keys that decide which keys the rest of the config may hold.
  std::optional<std::pair<json, std::string>> value(const std::string& path,
                                                    const schema::Key& key) const;
  // Whether a --set gave `path`.
  bool overridden(const std::string& path) const;
  const std::string& source() const;

  // Sets every assignment into the bound sections, in order, and returns the origins. Unknown
  // keys are errors with suggestions; keys in `others` follow OtherChoiceKey's rule; a key whose
  // `applies` is false for the final values is an error "only used when ...", unless a --set
  // changed the key it depends on, in which case the file's value is dropped (the default kept).
  Origins apply(const std::vector<Bound>& sections,
                const std::map<std::string, OtherChoiceKey>& others = {}) const;

 private:
  struct Impl;
  explicit ConfigDoc(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Throws "path origin: message (related origin, ...)" for a failed cross-field check.
[[noreturn]] void fail_with_origins(const Origins& origins, const std::string& path,
                                    const std::vector<std::string>& related,
                                    const std::string& message);

// Checks every bound key's value (configs built in code): "model.d_model in the config: must be
// >= 1, got 0".
void check_values(const std::vector<Bound>& sections);

// YAML of the bound sections: every key that applies, in order, under a leading comment.
std::string to_yaml(const std::vector<Bound>& sections, const std::string& comment);

// The --help-config text of the bound sections (each key: type, default from `defaults`, range,
// meaning, when it applies). `notes` maps a key path to an extra line ("only for mixer mamba").
std::string describe(const std::vector<Bound>& sections,
                     const std::map<std::string, std::string>& notes = {});

}  // namespace ssm::io
