#include "core/schema.h"

#include <charconv>
#include <cmath>

namespace ssm::schema {

bool Range::contains(double x) const {
  return (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
}

std::string format_number(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::string Range::str() const {
  bool has_lo = lo != -kInf, has_hi = hi != kInf;
  if (has_lo && has_hi)
    return std::string("in ") + (lo_open ? "(" : "[") + format_number(lo) + ", " +
           format_number(hi) + (hi_open ? ")" : "]");
  if (has_lo) return (lo_open ? "> " : ">= ") + format_number(lo);
  if (has_hi) return (hi_open ? "< " : "<= ") + format_number(hi);
  return "";
}

namespace {

std::string range_failure(const Range& r, double x) {
  return r.contains(x) ? "" : "must be " + r.str() + ", got " + format_number(x);
}

bool is_int(const json& v) { return v.is_number_integer(); }

}  // namespace

std::string check_value(const Key& k, const json& v, std::string* path) {
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "[" + string.
  auto element = [&](size_t i) { path->append("[").append(std::to_string(i)).append("]"); };
  if (v.is_null()) return k.optional ? "" : "has no value";
  switch (k.type) {
    case Type::integer:
      if (!is_int(v)) return "expected an integer, got " + v.dump();
      if (k.auto_ok && v.get<int64_t>() == 0) return "";
      return range_failure(k.range, double(v.get<int64_t>()));
    case Type::number:
      if (!v.is_number() || !std::isfinite(v.get<double>())) return "expected a number, got " + v.dump();
      return range_failure(k.range, v.get<double>());
    case Type::boolean: return v.is_boolean() ? "" : "expected true or false, got " + v.dump();
    case Type::string: return v.is_string() ? "" : "expected a string, got " + v.dump();
    case Type::choice:
      for (const std::string& c : k.choices)
        if (v.is_string() && v.get<std::string>() == c) return "";
      return "expected one of " + [&] {
        std::string s;
        for (const std::string& c : k.choices) s += (s.empty() ? "" : ", ") + c;
        return s;
      }() + ", got " + v.dump();
    case Type::device:
      if (v.is_string()) {
        try {
          parse_device(v.get<std::string>());
          return "";
        } catch (const Error&) {
        }
      }
      return "expected auto, cpu, cuda or cuda:N, got " + v.dump();
    case Type::number_list: {
      if (!v.is_array()) return "expected a list of numbers, got " + v.dump();
      if (k.list_size && v.size() != k.list_size)
        return "expected a list of " + std::to_string(k.list_size) + " numbers, got " +
               std::to_string(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number()) return "expected a list of numbers, got " + v.dump();
        std::string r = range_failure(k.range, v[i].get<double>());
        if (!r.empty()) {
          element(i);
          return r;
        }
      }
      return "";
    }
    case Type::string_list:
      if (!v.is_array()) return "expected a list of strings, got " + v.dump();
      for (size_t i = 0; i < v.size(); ++i)
        if (!v[i].is_string() || v[i].get<std::string>().empty()) {
          element(i);
          return "must be a non-empty string";
        }
      return "";
    case Type::records:
      if (!v.is_array()) return "expected a list of maps, got " + v.dump();
      for (size_t i = 0; i < v.size(); ++i) {
        std::string here = *path + "[" + std::to_string(i) + "]";
        if (!v[i].is_object()) {
          *path = here;
          return "expected a map, got " + v[i].dump();
        }
        if (!k.required.empty() &&
            (!v[i].contains(k.required) || !v[i][k.required].is_string() ||
             v[i][k.required].get<std::string>().empty())) {
          *path = here;
          return "needs a non-empty " + k.required;
        }
        for (const Key& f : k.fields) {
          if (!v[i].contains(f.name)) continue;
          std::string fp = here + "." + f.name;
          std::string r = check_value(f, v[i][f.name], &fp);
          if (!r.empty()) {
            *path = fp;
            return r;
          }
        }
      }
      return "";
  }
  return "";
}

std::string key_list(const std::vector<Key>& keys) {
  std::string s;
  for (const Key& k : keys) s += (s.empty() ? "" : ", ") + k.name;
  return s;
}

json to_config_json(const std::vector<Key>& keys, const json& values) {
  json out = json::object();
  for (const Key& k : keys)
    if (!k.json_name.empty() && values.contains(k.name)) {
      const json& v = values.at(k.name);
      // Derived values are written as "auto", as transformers writes time_step_rank.
      out[k.json_name] = k.auto_ok && v.is_number_integer() && v.get<int64_t>() == 0 ? json("auto") : v;
    }
  return out;
}

json from_config_json(const std::vector<Key>& keys, const json& config, const std::string& source) {
  json out = json::object();
  for (const Key& k : keys) {
    if (k.json_name.empty() || !config.contains(k.json_name)) continue;
    json v = config.at(k.json_name);
    if (v.is_null()) continue;
    // config.json writers put "auto" where the value is derived (time_step_rank).
    if (k.auto_ok && v.is_string() && v.get<std::string>() == "auto") v = 0;
    // Integers written as floats by other tools ("state_size": 16.0) are integers.
    if (k.type == Type::integer && v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())
      v = int64_t(v.get<double>());
    std::string path = k.json_name;
    std::string why = check_value(k, v, &path);
    SSM_CHECK(why.empty(), source, ": key '", path, "' ", why);
    out[k.name] = v;
  }
  return out;
}

}  // namespace ssm::schema
