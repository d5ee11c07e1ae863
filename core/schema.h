// Config schemas: each module declares the keys of its config section beside its config struct.
//
// A Section<T> lists the keys of struct T: the key's name (the same in YAML, in C++ and in
// messages), its type, range, default (T's member initialiser), meaning, and its name in a
// Hugging Face config.json where it is saved there. For example, beside nn::MambaConfig:
//
//   Section<MambaConfig> s("model");
//   s.add("d_state", &MambaConfig::d_state, at_least(1), "SSM state size N per channel")
//       .json_name = "state_size";
//   s.check([](const MambaConfig& c, Failures& f) {
//     if (c.dt_min > c.dt_max) f.push_back({"dt_min", {"dt_max"}, "must be <= ..."});
//   });
//
// Values travel as JSON (nlohmann::json): a key's value, a section's values as an object keyed
// by key name. The YAML reader (io/schema.h) turns a config file into such values with errors
// that name the file and line; config.json readers and writers map them by json_name. This
// header holds no YAML: every layer can declare its section.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace ssm::schema {

using json = nlohmann::json;

enum class Type {
  integer,      // int64; with auto_ok, "auto" (or an empty value) means 0
  number,       // finite double
  boolean,
  string,
  choice,       // one of `choices`
  device,       // auto | cpu | cuda | cuda:N
  number_list,  // list of numbers, each in the range; list_size elements when set
  string_list,  // list of non-empty strings
  records,      // list of maps, each with the keys `fields`
};

inline constexpr double kInf = std::numeric_limits<double>::infinity();

struct Range {
  double lo = -kInf, hi = kInf;
  bool lo_open = false, hi_open = false;
  bool contains(double x) const;
  std::string str() const;  // "in [2, 8]", ">= 1", "> 0", "" for no bound
};
inline Range at_least(double lo) { return {lo, kInf, false, false}; }
inline Range above(double lo) { return {lo, kInf, true, false}; }
inline Range between(double lo, double hi) { return {lo, hi, false, false}; }
inline Range open_between(double lo, double hi) { return {lo, hi, true, true}; }

// The shortest decimal that reads back as x ("0.1", "1e-05", "12").
std::string format_number(double x);

// A cross-field problem found by a section's check: the key at fault, the keys it was compared
// with (their origins are named in the message), and what is wrong.
struct Failure {
  std::string key;
  std::vector<std::string> related;
  std::string message;
};
using Failures = std::vector<Failure>;

struct Key {
  std::string name;
  Type type = Type::integer;
  Range range;                     // integer, number, each element of number_list
  bool auto_ok = false;            // integer: "auto" means 0
  bool optional = false;           // may be null: absent in YAML, "use the section's rule"
  size_t list_size = 0;            // number_list: exact length (0: any)
  std::vector<std::string> choices;
  std::vector<Key> fields;         // records: the keys of one record
  std::string required;            // records: the field every record must give, non-empty
  std::string doc;                 // what the key means
  std::string default_doc;         // the default as documented, when it is resolved on load
  std::string json_name;           // the key's name in config.json ("": not saved there)
  std::vector<std::string> aliases;  // other tools' names for it (suggested for unknown keys)
  bool in_yaml = true;             // false: a config.json-only key (special token ids)
  bool written = true;             // false: an older spelling, read but never written back
  // Keys that mean something only for some values of another key of the same section.
  std::string applies_key, applies_doc;
  std::function<bool(const void*)> applies;
  // Reads and writes the field of the section's struct (a T*), as JSON.
  std::function<json(const void*)> get;
  std::function<void(void*, const json&)> set;

  // The key only matters when `pred(struct)` holds; `values` says when, for messages.
  template <class T>
  Key& only_when(const std::string& key, const std::string& values, std::function<bool(const T&)> pred) {
    applies_key = key;
    applies_doc = key + " is " + values;
    applies = [pred](const void* p) { return pred(*static_cast<const T*>(p)); };
    return *this;
  }
};

// Why `v` is not a valid value of `k` ("must be in [2, 8], got 12"), "" when it is. `v` is in the
// canonical JSON form (what Key::get returns); `path` prefixes list elements' and records' names.
std::string check_value(const Key& k, const json& v, std::string* path);

// The key names of a section, for messages ("d_model, d_state, ...").
std::string key_list(const std::vector<Key>& keys);

// ---- typed sections -----------------------------------------------------------------------------

namespace detail {
template <class F>
struct IsVector : std::false_type {};
template <class U>
struct IsVector<std::vector<U>> : std::true_type {};
template <class F>
struct IsOptional : std::false_type {};
template <class U>
struct IsOptional<std::optional<U>> : std::true_type {};
}  // namespace detail

template <class T>
class Section {
 public:
  explicit Section(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  const std::vector<Key>& keys() const { return keys_; }
  const Key* find(const std::string& key) const {
    for (const Key& k : keys_)
      if (k.name == key) return &k;
    return nullptr;
  }

  // A scalar, string, device, number list or string list field; the type follows the field's.
  template <class F>
  Key& add(const std::string& name, F T::*field, Range range, std::string doc) {
    Key k = make_key<F>(name, range, std::move(doc));
    k.get = [field](const void* p) { return to_json(static_cast<const T*>(p)->*field); };
    k.set = [field](void* p, const json& v) { from_json(v, static_cast<T*>(p)->*field); };
    keys_.push_back(std::move(k));
    return keys_.back();
  }
  template <class F>
  Key& add(const std::string& name, F T::*field, std::string doc) {
    return add(name, field, Range{}, std::move(doc));
  }

  // An enum field, named in YAML by `names` in the enum's declaration order.
  template <class E>
    requires std::is_enum_v<E>
  Key& add_choice(const std::string& name, E T::*field, std::vector<std::string> names,
                  std::string doc) {
    Key k;
    k.name = name;
    k.type = Type::choice;
    k.choices = names;
    k.doc = std::move(doc);
    k.get = [field, names](const void* p) { return json(names.at(size_t(static_cast<const T*>(p)->*field))); };
    k.set = [field, names](void* p, const json& v) {
      for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == v.get<std::string>()) static_cast<T*>(p)->*field = E(i);
    };
    keys_.push_back(std::move(k));
    return keys_.back();
  }

  // A string field restricted to `names` (registries: mixers, architectures, tasks).
  Key& add_choice(const std::string& name, std::string T::*field, std::vector<std::string> names,
                  std::string doc) {
    Key& k = add(name, field, std::move(doc));
    k.type = Type::choice;
    k.choices = std::move(names);
    return k;
  }

  // A list of records, each a struct R with its own section (optimizer.param_groups).
  template <class R>
  Key& add_records(const std::string& name, std::vector<R> T::*field, const Section<R>& fields,
                   std::string required, std::string doc) {
    Key k;
    k.name = name;
    k.type = Type::records;
    k.fields = fields.keys();
    k.required = std::move(required);
    k.doc = std::move(doc);
    k.get = [field, fields](const void* p) {
      json out = json::array();
      for (const R& r : static_cast<const T*>(p)->*field) out.push_back(fields.write(r));
      return out;
    };
    k.set = [field, fields](void* p, const json& v) {
      std::vector<R>& out = static_cast<T*>(p)->*field;
      out.clear();
      for (const json& r : v) out.push_back(fields.read(r));
    };
    keys_.push_back(std::move(k));
    return keys_.back();
  }

  // The keys, reading and writing a JSON object (key name -> value) instead of a T: for configs
  // that hold a section's values without its struct (a model's mixer options, a task's data
  // options). Names in the object that are not this section's are ignored.
  std::vector<Key> json_keys() const {
    std::vector<Key> out = keys_;
    Section self = *this;
    for (Key& k : out) {
      std::string name = k.name;
      k.get = [name](const void* p) {
        const json& o = *static_cast<const json*>(p);
        return o.contains(name) ? o.at(name) : json();
      };
      k.set = [name](void* p, const json& v) { (*static_cast<json*>(p))[name] = v; };
      if (k.applies) {
        auto pred = k.applies;
        k.applies = [self, pred](const void* p) {
          T t = self.read_own(*static_cast<const json*>(p));
          return pred(&t);
        };
      }
    }
    return out;
  }
  // read(), ignoring names that are not this section's.
  T read_own(const json& values) const {
    T out{};
    for (const auto& [name, v] : values.items())
      if (const Key* k = find(name); k && (!v.is_null() || k->optional)) k->set(&out, v);
    return out;
  }

  // A check across the section's fields, run after every value is set.
  Section& check(std::function<void(const T&, Failures&)> fn) {
    checks_.push_back(std::move(fn));
    return *this;
  }
  Failures failures(const T& v) const {
    Failures f;
    for (const auto& c : checks_) c(v, f);
    return f;
  }

  // The struct with every key of `values` (an object keyed by key name) set over T's defaults.
  // Unknown names are an error: the caller validated the values against this section.
  T read(const json& values) const {
    T out{};
    set_all(out, values);
    return out;
  }
  void set_all(T& out, const json& values) const {
    for (const auto& [name, v] : values.items()) {
      const Key* k = find(name);
      SSM_CHECK(k, "section ", name_, " has no key '", name, "' (its keys: ", key_list(keys_), ")");
      if (!v.is_null() || k->optional) k->set(&out, v);
    }
  }
  // Every key's value, as an object keyed by key name (optional keys that are unset left out).
  json write(const T& v) const {
    json out = json::object();
    for (const Key& k : keys_) {
      json x = k.get(&v);
      if (!x.is_null()) out[k.name] = std::move(x);
    }
    return out;
  }

 private:
  template <class F>
  static Key make_key(const std::string& name, Range range, std::string doc) {
    Key k;
    k.name = name;
    k.range = range;
    k.doc = std::move(doc);
    if constexpr (std::is_same_v<F, int64_t>) k.type = Type::integer;
    else if constexpr (std::is_same_v<F, double>) k.type = Type::number;
    else if constexpr (std::is_same_v<F, std::optional<double>>) {
      k.type = Type::number;
      k.optional = true;
    } else if constexpr (std::is_same_v<F, std::optional<int64_t>>) {
      k.type = Type::integer;
      k.optional = true;
    } else if constexpr (std::is_same_v<F, bool>) k.type = Type::boolean;
    else if constexpr (std::is_same_v<F, std::string>) k.type = Type::string;
    else if constexpr (std::is_same_v<F, Device>) k.type = Type::device;
    else if constexpr (std::is_same_v<F, std::vector<double>>) k.type = Type::number_list;
    else if constexpr (std::is_same_v<F, std::vector<std::string>>) k.type = Type::string_list;
    else static_assert(!sizeof(F), "schema: unsupported field type");
    return k;
  }
  template <class F>
  static json to_json(const F& v) {
    if constexpr (std::is_same_v<F, Device>) return v.str();
    else if constexpr (detail::IsOptional<F>::value) return v ? json(*v) : json();
    else return json(v);
  }
  template <class F>
  static void from_json(const json& v, F& out) {
    if constexpr (std::is_same_v<F, Device>) out = parse_device(v.get<std::string>());
    else if constexpr (detail::IsOptional<F>::value)
      out = v.is_null() ? F() : F(v.get<typename F::value_type>());
    else out = v.get<F>();
  }

  std::string name_;
  std::vector<Key> keys_;
  std::vector<std::function<void(const T&, Failures&)>> checks_;
};

// config.json: the values of `keys` that have a json_name, from `values` (keyed by key name) to
// an object keyed by json_name, and back. Reading skips absent keys and throws ssm::Error naming
// the config.json key for a value of the wrong type or out of range.
json to_config_json(const std::vector<Key>& keys, const json& values);
json from_config_json(const std::vector<Key>& keys, const json& config, const std::string& source);

}  // namespace ssm::schema
