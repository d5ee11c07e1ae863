#include "io/schema.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/suggest.h"

namespace ssm::io {

using schema::format_number;
using schema::Key;
using schema::Type;

namespace {

// ---- suggestions for unknown keys ----------------------------------------------------------------

using Candidates = std::vector<std::pair<std::string, std::string>>;  // name -> what to suggest

// What to suggest for the names in `candidates` closest to `word` within `limit` edits.
std::vector<std::string> closest(const std::string& word, const Candidates& candidates, size_t limit) {
  std::vector<std::string> names, best;
  for (const auto& [name, shown] : candidates) names.push_back(name);
  for (const std::string& name : closest_names(word, names, limit))
    for (const auto& [n, shown] : candidates)
      if (n == name && std::find(best.begin(), best.end(), shown) == best.end()) best.push_back(shown);
  return best;
}

std::vector<std::string> closest(const std::string& word, const Candidates& candidates) {
  return closest(word, candidates, typo_distance(word));
}

std::string join_quoted(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + "'" + v[i] + "'";
  return out;
}

std::string did_you_mean(const std::vector<std::string>& best) {
  return best.empty() ? "" : "; did you mean " + join_quoted(best, " or ") + "?";
}

std::string path_of(const std::string& section, const std::string& name) {
  return section.empty() ? name : section + "." + name;
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

std::string describe_node(const YAML::Node& n) {
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

void check_range(const schema::Range& r, double x, const std::string& path, const std::string& at) {
  if (!r.contains(x)) bad(path, at, "must be " + r.str() + ", got " + format_number(x));
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
  if (!n.IsScalar()) bad(path, w.at(n), "expected " + expected + ", got " + describe_node(n));
  return n.Scalar();
}

double number(const YAML::Node& n, const schema::Range& range, const std::string& path, const Where& w) {
  double x;
  if (!parse_number(scalar(n, "a number", path, w), x))
    bad(path, w.at(n), "expected a number, got " + describe_node(n));
  check_range(range, x, path, w.at(n));
  return x;
}

std::string list_text(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

json parse_value(const Key& k, const YAML::Node& n, const std::string& path, const Where& w);

// A list of records, each a map of `k.fields`.
json parse_records(const Key& k, const YAML::Node& n, const std::string& path, const Where& w) {
  std::vector<std::string> names;
  for (const Key& f : k.fields) names.push_back(f.name);
  const std::string shape = "{" + list_text(names, ", ") + "}";
  if (!n.IsSequence()) bad(path, w.at(n), "expected a list of " + shape + ", got " + describe_node(n));
  json out = json::array();
  for (size_t i = 0; i < n.size(); ++i) {
    YAML::Node r = n[i];
    std::string rp = path + "[" + std::to_string(i) + "]";
    if (!r.IsMap()) bad(rp, w.at(r), "expected a map " + shape + ", got " + describe_node(r));
    json rec = json::object();
    std::map<std::string, YAML::Mark> seen;
    for (auto it = r.begin(); it != r.end(); ++it) {
      std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
      std::string kp = rp + "." + name;
      Where kw = w;
      kw.fallback = it->first.Mark();
      if (auto s = seen.find(name); s != seen.end())
        SSM_FAIL("duplicate key '", kp, "' ", w.at_mark(it->first.Mark()), " (first ",
                 w.at_mark(s->second), ")");
      seen[name] = it->first.Mark();
      const Key* f = nullptr;
      for (const Key& x : k.fields)
        if (x.name == name) f = &x;
      if (!f) {
        Candidates c;
        for (const std::string& x : names) c.push_back({x, x});
        SSM_FAIL("unknown key '", kp, "' ", w.at_mark(it->first.Mark()), "; each entry of ", path,
                 " has ", list_text(names, ", "), did_you_mean(closest(name, c)));
      }
      rec[name] = parse_value(*f, it->second, kp, kw);
    }
    if (!k.required.empty() &&
        (!rec.contains(k.required) || rec[k.required].get<std::string>().empty()))
      bad(rp, w.at(r), "needs a non-empty " + k.required);
    out.push_back(rec);
  }
  return out;
}

// Parses and checks a value of `k` from `n`, in the key's canonical JSON form.
json parse_value(const Key& k, const YAML::Node& n, const std::string& path, const Where& w) {
  switch (k.type) {
    case Type::integer: {
      if (k.auto_ok && (n.IsNull() || (n.IsScalar() && n.Scalar() == "auto"))) return int64_t(0);
      std::string expected = k.auto_ok ? "an integer or auto" : "an integer";
      int64_t v;
      if (!parse_integer(scalar(n, expected, path, w), v))
        bad(path, w.at(n), "expected " + expected + ", got " + describe_node(n));
      check_range(k.range, double(v), path, w.at(n));
      return v;
    }
    case Type::number: return number(n, k.range, path, w);
    case Type::boolean: {
      bool b;
      if (!parse_bool(scalar(n, "true or false", path, w), b))
        bad(path, w.at(n), "expected true or false, got " + describe_node(n));
      return b;
    }
    case Type::string: return scalar(n, "a string", path, w);
    case Type::choice: {
      std::string list = list_text(k.choices, ", ");
      const std::string& s = scalar(n, "one of " + list, path, w);
      if (std::find(k.choices.begin(), k.choices.end(), s) != k.choices.end()) return s;
      Candidates c;
      for (const std::string& x : k.choices) c.push_back({x, x});
      bad(path, w.at(n), "expected one of " + list + ", got " + describe_node(n) +
                             did_you_mean(closest(s, c)));
    }
    case Type::device: {
      const std::string& s = scalar(n, "auto, cpu, cuda or cuda:N", path, w);
      try {
        parse_device(s);
      } catch (const Error&) {
        bad(path, w.at(n), "expected auto, cpu, cuda or cuda:N, got " + describe_node(n));
      }
      return s;
    }
    case Type::number_list: {
      std::string expected =
          "a list of " + (k.list_size ? std::to_string(k.list_size) + " numbers" : "numbers");
      if (!n.IsSequence() || (k.list_size && n.size() != k.list_size))
        bad(path, w.at(n), "expected " + expected + ", got " + describe_node(n) +
                               (n.IsSequence() ? " of " + std::to_string(n.size()) : ""));
      json out = json::array();
      for (size_t i = 0; i < n.size(); ++i)
        out.push_back(number(n[i], k.range, path + "[" + std::to_string(i) + "]", w));
      return out;
    }
    case Type::string_list: {
      if (!n.IsSequence()) bad(path, w.at(n), "expected a list of strings, got " + describe_node(n));
      json out = json::array();
      for (size_t i = 0; i < n.size(); ++i) {
        std::string ep = path + "[" + std::to_string(i) + "]";
        std::string s = scalar(n[i], "a string", ep, w);
        if (s.empty()) bad(ep, w.at(n[i]), "must not be empty");
        out.push_back(s);
      }
      return out;
    }
    case Type::records: return parse_records(k, n, path, w);
  }
  SSM_FAIL("config: unhandled type of ", path);
}

// ---- reading YAML --------------------------------------------------------------------------------

// Notes where each document of a YAML stream starts, building nothing.
struct DocumentStarts : YAML::EventHandler {
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

struct YamlText {
  YAML::Node root;  // the first document (Null when there is none)
  size_t documents = 0;
};

// YAML::LoadAll without its endless loop: yaml-cpp 0.7 leaves a ',' where a node should start
// unread and reports an empty document there, again and again, allocating each one, so
// LoadAll(",") never returns (jbeder/yaml-cpp#1040; fixed upstream after 0.8.0). The documents are
// counted first, and one that starts where the one before it started is invalid YAML. Throws
// YAML::Exception with the mark of the fault.
YamlText load_yaml(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts docs;
  while (parser.HandleNextDocument(docs)) {
    size_t n = docs.starts.size();
    if (n >= 2 && docs.starts[n - 1].pos == docs.starts[n - 2].pos) {
      const YAML::Mark& m = docs.starts[n - 1];
      char c = m.pos >= 0 && size_t(m.pos) < text.size() ? text[size_t(m.pos)] : '\0';
      throw YAML::ParserException(m, std::isgraph(static_cast<unsigned char>(c))
                                         ? std::string("unexpected '") + c + "'"
                                         : std::string("unexpected token"));
    }
  }
  YamlText out;
  out.documents = docs.starts.size();
  if (out.documents > 0) out.root = YAML::Load(text);
  return out;
}

// ---- writing -------------------------------------------------------------------------------------

void emit_value(YAML::Emitter& out, const Key& k, const json& v) {
  switch (k.type) {
    case Type::integer: {
      int64_t i = v.get<int64_t>();
      out << (k.auto_ok && i == 0 ? std::string("auto") : std::to_string(i));
      break;
    }
    case Type::number: out << format_number(v.get<double>()); break;
    case Type::boolean: out << (v.get<bool>() ? "true" : "false"); break;
    case Type::string: out << YAML::DoubleQuoted << v.get<std::string>(); break;
    case Type::choice:
    case Type::device: out << v.get<std::string>(); break;
    case Type::number_list:
      out << YAML::Flow << YAML::BeginSeq;
      for (const json& x : v) out << format_number(x.get<double>());
      out << YAML::EndSeq;
      break;
    case Type::string_list:
      out << YAML::Flow << YAML::BeginSeq;
      for (const json& x : v) out << YAML::DoubleQuoted << x.get<std::string>();
      out << YAML::EndSeq;
      break;
    case Type::records:
      if (v.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const json& r : v) {
        out << YAML::Flow << YAML::BeginMap;
        for (const Key& f : k.fields) {
          if (!r.contains(f.name) || r.at(f.name).is_null()) continue;
          out << YAML::Key << f.name << YAML::Value;
          emit_value(out, f, r.at(f.name));
        }
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
      break;
  }
}

std::string value_text(const Key& k, const json& v) {
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
  std::string range = k.range.str();
  switch (k.type) {
    case Type::integer: return "int " + range + (k.auto_ok ? " or auto" : "");
    case Type::number: return range.empty() ? "number" : "number " + range;
    case Type::boolean: return "bool";
    case Type::string: return "string";
    case Type::choice: return list_text(k.choices, " | ");
    case Type::device: return "auto | cpu | cuda | cuda:N";
    case Type::number_list:
      return "list of " + (k.list_size ? std::to_string(k.list_size) + " " : "") + "numbers " + range;
    case Type::string_list: return "list of strings";
    case Type::records: {
      std::vector<std::string> names;
      for (const Key& f : k.fields) names.push_back(f.name);
      return "list of {" + list_text(names, ", ") + "}";
    }
  }
  return "";
}

}  // namespace

// ---- the document --------------------------------------------------------------------------------

struct Assignment {
  std::string section, name;
  YAML::Node value;
  Where where;
  YAML::Mark key_mark;
  std::string path() const { return path_of(section, name); }
};

struct ConfigDoc::Impl {
  std::string source;
  std::vector<std::pair<std::string, std::string>> sections;  // name, an example key
  std::vector<Assignment> assignments;

  const std::string* example_key(const std::string& s) const {
    for (const auto& [name, key] : sections)
      if (name == s) return &key;
    return nullptr;
  }

  void collect(const YAML::Node& map, const std::string& section, const Where& w) {
    std::map<std::string, YAML::Mark> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node kn = it->first;
      if (!kn.IsScalar())
        SSM_FAIL(w.file, ":", kn.Mark().line + 1, ":", kn.Mark().column + 1,
                 ": keys must be plain names, got ", describe_node(kn));
      const std::string name = kn.Scalar();
      const std::string path = path_of(section, name);
      if (auto s = seen.find(name); s != seen.end())
        SSM_FAIL("duplicate key '", path, "' ", w.at_mark(kn.Mark()), " (first ",
                 w.at_mark(s->second), ")");
      seen[name] = kn.Mark();
      Where vw = w;
      vw.fallback = kn.Mark();
      if (section.empty()) {
        if (const std::string* example = example_key(name)) {
          const YAML::Node sec = it->second;
          if (sec.IsNull()) continue;  // an empty section
          if (!sec.IsMap())
            SSM_FAIL("section '", name, "' ", vw.at(sec), " must be a map of keys (e.g. ", name,
                     ".", *example, "), got ", describe_node(sec));
          collect(sec, name, w);
          continue;
        }
      }
      assignments.push_back({section, name, it->second, vw, kn.Mark()});
    }
  }
};

ConfigDoc::ConfigDoc(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigDoc::ConfigDoc(ConfigDoc&&) noexcept = default;
ConfigDoc& ConfigDoc::operator=(ConfigDoc&&) noexcept = default;
ConfigDoc::~ConfigDoc() = default;

const std::string& ConfigDoc::source() const { return impl_->source; }

namespace {

std::string hex_byte(char c) {
  static const char* kDigits = "0123456789ABCDEF";
  unsigned char b = static_cast<unsigned char>(c);
  return {kDigits[b >> 4], kDigits[b & 0xF]};
}

// Where `text` stops being UTF-8 (an offset), or npos. YAML text is UTF-8 (YAML 1.2, 5.2); yaml-cpp
// passes other bytes through, and a name holding them would not read back from the YAML we write.
size_t invalid_utf8_at(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > text.size()) return i;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(text[i + k]);
      if ((d >> 6) != 0x2) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8 either.
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += n;
  }
  return std::string::npos;
}

}  // namespace

ConfigDoc ConfigDoc::parse(const std::string& text, const std::string& source,
                           std::vector<std::pair<std::string, std::string>> sections) {
  auto impl = std::make_unique<Impl>();
  impl->source = source;
  impl->sections = std::move(sections);
  if (size_t bad = invalid_utf8_at(text); bad != std::string::npos) {
    size_t line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    size_t nl = text.rfind('\n', bad == 0 ? std::string::npos : bad - 1);
    size_t col = bad - (nl == std::string::npos || nl >= bad ? 0 : nl + 1) + 1;
    SSM_FAIL(source, ":", line, ":", col, ": not UTF-8 text (byte 0x", hex_byte(text[bad]),
             "); a config file is UTF-8");
  }
  YamlText doc;
  try {
    doc = load_yaml(text);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) SSM_FAIL(source, ": invalid YAML: ", e.msg);
    SSM_FAIL(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
  SSM_CHECK(doc.documents <= 1, source, ": holds ", doc.documents,
            " YAML documents (separated by ---); a config is one");
  if (!doc.root.IsNull()) {
    const YAML::Node& root = doc.root;
    if (!root.IsMap()) {
      std::string names;
      for (const auto& [name, key] : impl->sections) names += (names.empty() ? "" : ", ") + name;
      SSM_FAIL(source, ":", root.Mark().line + 1, ":", root.Mark().column + 1,
               ": the top level must be a map of sections (", names, ") and top-level keys, got ",
               describe_node(root));
    }
    Where w;
    w.file = source;
    impl->collect(root, "", w);
  }
  return ConfigDoc(std::move(impl));
}

void ConfigDoc::add_override(const std::string& arg) {
  size_t eq = arg.find('=');
  SSM_CHECK(eq != std::string::npos && eq > 0, "--set '", arg,
            "': expected key=value, e.g. --set optimizer.lr=3e-3");
  SSM_CHECK(invalid_utf8_at(arg) == std::string::npos, "--set: not UTF-8 text (byte 0x",
            hex_byte(arg[invalid_utf8_at(arg)]), ")");
  std::string path = arg.substr(0, eq), text = arg.substr(eq + 1);
  while (!path.empty() && path.back() == ' ') path.pop_back();
  if (const std::string* example = impl_->example_key(path))
    SSM_FAIL("--set ", arg, ": '", path, "' is a section; set one of its keys, e.g. --set ", path,
             ".", *example, "=...");
  size_t dot = path.find('.');
  std::string section = dot == std::string::npos ? "" : path.substr(0, dot);
  std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
  Where w;
  w.set_arg = arg;
  YamlText value;
  try {
    value = load_yaml(text);
  } catch (const YAML::Exception& e) {
    SSM_FAIL(path, " in --set ", arg, ": invalid YAML value: ", e.msg);
  }
  SSM_CHECK(value.documents <= 1, path, " in --set ", arg, ": the value holds ", value.documents,
            " YAML documents (separated by ---)");
  impl_->assignments.push_back({section, name, value.root, w, YAML::Mark()});
}

std::optional<std::pair<json, std::string>> ConfigDoc::value(const std::string& path,
                                                             const schema::Key& key) const {
  for (auto it = impl_->assignments.rbegin(); it != impl_->assignments.rend(); ++it)
    if (it->path() == path) return std::pair{parse_value(key, it->value, path, it->where), it->where.at(it->value)};
  return std::nullopt;
}

bool ConfigDoc::overridden(const std::string& path) const {
  for (const Assignment& a : impl_->assignments)
    if (!a.where.set_arg.empty() && a.path() == path) return true;
  return false;
}

Origins ConfigDoc::apply(const std::vector<Bound>& sections,
                         const std::map<std::string, OtherChoiceKey>& others) const {
  struct Target {
    const Bound* bound;
    const Key* key;
  };
  std::map<std::string, Target> known;
  for (const Bound& b : sections)
    for (const Key& k : *b.keys)
      if (k.in_yaml) known.emplace(path_of(b.section, k.name), Target{&b, &k});

  // "; did you mean 'lr'?" for an unknown key `name` in `section` ("" at the top level). Another
  // tool's name for a key here, then a key (or name) of another section spelled exactly, then a
  // typo of a key here, then a typo of a key elsewhere.
  auto suggest = [&](const std::string& section, const std::string& name) {
    Candidates here, elsewhere;
    for (const Bound& b : sections)
      for (const Key& k : *b.keys) {
        if (!k.in_yaml) continue;
        bool same = b.section == section;
        std::string shown = same ? k.name : path_of(b.section, k.name);
        (same ? here : elsewhere).push_back({k.name, shown});
        for (const std::string& a : k.aliases) (same ? here : elsewhere).push_back({a, shown});
      }
    for (const auto& [path, other] : others) {
      size_t dot = path.find('.');
      std::string sec = dot == std::string::npos ? "" : path.substr(0, dot);
      std::string nm = dot == std::string::npos ? path : path.substr(dot + 1);
      (sec == section ? here : elsewhere).push_back({nm, sec == section ? nm : path});
    }
    if (section.empty())
      for (const auto& [s, key] : impl_->sections) here.push_back({s, s});
    std::vector<std::string> best = closest(name, here, 0);
    if (best.empty()) best = closest(name, elsewhere, 0);
    if (best.empty()) best = closest(name, here);
    if (best.empty()) best = closest(name, elsewhere);
    return did_you_mean(best);
  };
  auto unknown = [&](const Assignment& a) -> std::string {
    std::string where = a.where.set_arg.empty() ? a.where.at_mark(a.key_mark) : a.where.at(a.value);
    bool known_section = a.section.empty() || impl_->example_key(a.section);
    std::string hint = known_section ? suggest(a.section, a.name) : suggest("", a.section);
    return "unknown key '" + a.path() + "' " + where + hint;
  };

  // Which assignments are set, and which are dropped: keys of another choice whose selector a
  // --set switched (the file's settings for the old choice).
  std::vector<const Assignment*> used;
  for (const Assignment& a : impl_->assignments) {
    std::string path = a.path();
    if (known.count(path)) {
      used.push_back(&a);
      continue;
    }
    auto other = others.find(path);
    if (other == others.end()) SSM_FAIL(unknown(a));
    if (a.where.set_arg.empty() && overridden(other->second.selector)) continue;
    bad(path, a.where.at(a.value),
        "only used when " + other->second.selector + " is " + other->second.values +
            "; remove it or change " + other->second.selector);
  }

  Origins origins;
  for (const Assignment* a : used) {
    const Target& t = known.at(a->path());
    t.key->set(t.bound->target, parse_value(*t.key, a->value, a->path(), a->where));
    origins[a->path()] = a->where.at(a->value);
  }
  for (const Assignment* a : used) {
    const Target& t = known.at(a->path());
    if (!t.key->applies || t.key->applies(t.bound->target)) continue;
    std::string dep = path_of(t.bound->section, t.key->applies_key);
    // `--set scheduler.name=constant` over a file with cosine settings drops those settings.
    if (!(a->where.set_arg.empty() && overridden(dep)))
      bad(a->path(), a->where.at(a->value),
          "only used when " + path_of(t.bound->section, t.key->applies_doc) + "; remove it or change " + dep);
    t.key->set(t.bound->target, t.key->get(t.bound->defaults));
    origins.erase(a->path());
  }
  return origins;
}

// ---- checks, writing, help -----------------------------------------------------------------------

void fail_with_origins(const Origins& origins, const std::string& path,
                       const std::vector<std::string>& related, const std::string& message) {
  std::string out = path;
  if (auto it = origins.find(path); it != origins.end()) out += " " + it->second;
  out += ": " + message;
  std::string rel;
  for (const std::string& r : related)
    if (auto it = origins.find(r); it != origins.end()) rel += (rel.empty() ? "" : ", ") + r + " " + it->second;
  if (!rel.empty()) out += " (" + rel + ")";
  throw Error(out);
}

void check_values(const std::vector<Bound>& sections) {
  for (const Bound& b : sections)
    for (const Key& k : *b.keys) {
      std::string path = path_of(b.section, k.name);
      std::string why = schema::check_value(k, k.get(b.target), &path);
      if (!why.empty()) bad(path, "in the config", why);
    }
}

std::string to_yaml(const std::vector<Bound>& sections, const std::string& comment) {
  YAML::Emitter out;
  out << YAML::Comment(comment);
  out << YAML::BeginMap;
  std::string section;
  for (const Bound& b : sections) {
    if (b.section != section) {
      if (!section.empty()) out << YAML::EndMap;
      section = b.section;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    }
    for (const Key& k : *b.keys) {
      if (!k.in_yaml || !k.written || (k.applies && !k.applies(b.target))) continue;
      json v = k.get(b.target);
      if (v.is_null()) continue;
      out << YAML::Key << k.name << YAML::Value;
      emit_value(out, k, v);
    }
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string describe(const std::vector<Bound>& sections, const std::map<std::string, std::string>& notes) {
  std::string out, heading = "\x01";
  for (const Bound& b : sections) {
    std::string title = !b.title.empty() ? b.title : b.section.empty() ? "top level" : b.section + ":";
    if (title != heading) {
      heading = title;
      out += "\n" + title + "\n";
    }
    for (const Key& k : *b.keys) {
      if (!k.in_yaml) continue;
      json def = k.get(b.defaults);
      std::string shown = !k.default_doc.empty() ? k.default_doc
                          : def.is_null()        ? "none"
                                                 : value_text(k, def);
      std::string head = "  " + k.name;
      head.resize(std::max<size_t>(head.size() + 1, 28), ' ');
      out += head + type_text(k) + "  (default " + shown + ")\n";
      out += wrap(k.doc, 6, 100);
      if (k.applies) out += wrap("only when " + path_of(b.section, k.applies_doc), 6, 100);
      if (auto n = notes.find(path_of(b.section, k.name)); n != notes.end()) out += wrap(n->second, 6, 100);
    }
  }
  return out;
}

}  // namespace ssm::io
