#include "data/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file.h"

namespace ssm::data {

namespace {

using json = nlohmann::json;

constexpr const char* kSpecialNames[] = {"pad", "sos", "eos", "sep"};
// The files nest two deep; anything deeper is refused while parsing, before it is built.
constexpr int kMaxJsonDepth = 4;

std::string describe_char(unsigned char c) {
  if (c >= 0x20 && c < 0x7F) return std::string("'") + char(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

std::vector<std::string> piglatin_tokens() {
  std::vector<std::string> t = {"<pad>", "<sos>", "<eos>", "<sep>"};
  for (char c = 'a'; c <= 'z'; ++c) t.emplace_back(1, c);
  t.emplace_back("-");
  return t;
}

int64_t special_id(const std::map<std::string, int64_t>& special, const char* name) {
  auto it = special.find(name);
  SSM_CHECK(it != special.end(), "char tokenizer: no '", name, "' special token");
  return it->second;
}

}  // namespace

CharTokenizer::CharTokenizer()
    : CharTokenizer(piglatin_tokens(), {{"pad", 0}, {"sos", 1}, {"eos", 2}, {"sep", 3}}) {}

CharTokenizer::CharTokenizer(std::vector<std::string> tokens,
                             std::map<std::string, int64_t> special)
    : tokens_(std::move(tokens)), special_(std::move(special)) {
  std::fill(std::begin(ids_), std::end(ids_), -1);
  int64_t n = int64_t(tokens_.size());
  std::vector<bool> is_special(tokens_.size(), false);
  for (const auto& [name, id] : special_) {
    SSM_CHECK(id >= 0 && id < n, "char tokenizer: special token '", name, "' has id ", id,
              ", outside [0, ", n, ")");
    SSM_CHECK(tokens_[size_t(id)] == "<" + name + ">", "char tokenizer: special token '", name,
              "' has id ", id, " but token ", id, " is '", tokens_[size_t(id)], "', not '<", name,
              ">'");
    SSM_CHECK(!is_special[size_t(id)], "char tokenizer: two special tokens share id ", id);
    is_special[size_t(id)] = true;
  }
  pad_ = special_id(special_, "pad");
  sos_ = special_id(special_, "sos");
  eos_ = special_id(special_, "eos");
  sep_ = special_id(special_, "sep");
  for (int64_t i = 0; i < n; ++i) {
    if (is_special[size_t(i)]) continue;
    const std::string& t = tokens_[size_t(i)];
    SSM_CHECK(t.size() == 1, "char tokenizer: token ", i, " ('", t,
              "') must be one character or a special token listed in \"special\"");
    auto c = static_cast<unsigned char>(t[0]);
    SSM_CHECK(ids_[c] < 0, "char tokenizer: ", describe_char(c), " is both token ", ids_[c],
              " and token ", i);
    ids_[c] = i;
  }
}

std::vector<int64_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (ids_[c] < 0) {
      std::string known;
      for (const std::string& t : tokens_)
        if (t.size() == 1) known += t;
      SSM_FAIL("char tokenizer: ", describe_char(c), " at character ", i + 1, " of ",
               quote_word(text), " is not in the vocabulary (", known, ")");
    }
    out.push_back(ids_[c]);
  }
  return out;
}

std::string CharTokenizer::decode(std::span<const int64_t> ids) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    SSM_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "char tokenizer: id ", ids[i], " at position ",
              i + 1, " is outside the vocabulary [0, ", vocab_size(), ")");
    out += tokens_[size_t(ids[i])];
  }
  return out;
}

std::string CharTokenizer::to_json() const {
  json j = {{"type", "char"}, {"tokens", tokens_}, {"special", json::object()}};
  for (const auto& [name, id] : special_) j["special"][name] = id;
  return j.dump(2) + "\n";
}

std::vector<int64_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<unsigned char>(text[i]);
  return out;
}

std::string ByteTokenizer::decode(std::span<const int64_t> ids) const {
  std::string out(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    SSM_CHECK(ids[i] >= 0 && ids[i] < 256, "byte tokenizer: id ", ids[i], " at position ", i + 1,
              " is not a byte (0..255)");
    out[i] = char(ids[i]);
  }
  return out;
}

std::string ByteTokenizer::to_json() const { return json{{"type", "byte"}}.dump(2) + "\n"; }

void save_tokenizer(const Tokenizer& tok, const std::string& path) {
  write_file_atomic(path, tok.to_json());
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  return parse_tokenizer(read_file(path), path);
}

std::unique_ptr<Tokenizer> parse_tokenizer(std::string_view text, const std::string& source) {
  json j;
  try {
    j = json::parse(text, [&](int depth, json::parse_event_t, json&) {
      SSM_CHECK(depth <= kMaxJsonDepth, source, ": JSON nested deeper than ", kMaxJsonDepth);
      return true;
    });
  } catch (const json::exception& e) {
    SSM_FAIL(source, ": not valid JSON: ", e.what());
  }
  SSM_CHECK(j.is_object(), source, ": a tokenizer file holds a JSON object, found ", j.type_name());
  SSM_CHECK(j.contains("type") && j["type"].is_string(), source,
            ": no \"type\" string (\"char\" or \"byte\")");
  std::string type = j["type"];
  auto allow_keys = [&](std::initializer_list<const char*> keys) {
    for (const auto& [k, v] : j.items()) {
      bool ok = false;
      for (const char* a : keys) ok = ok || k == a;
      SSM_CHECK(ok, source, ": unknown key \"", k, "\" in a \"", type, "\" tokenizer");
    }
  };
  if (type == "byte") {
    allow_keys({"type"});
    return std::make_unique<ByteTokenizer>();
  }
  SSM_CHECK(type == "char", source, ": unknown tokenizer type \"", type,
            "\" (expected \"char\" or \"byte\")");
  allow_keys({"type", "tokens", "special"});
  SSM_CHECK(j.contains("tokens") && j["tokens"].is_array() && !j["tokens"].empty(), source,
            ": \"tokens\" must be a non-empty array of strings");
  std::vector<std::string> tokens;
  for (size_t i = 0; i < j["tokens"].size(); ++i) {
    const json& t = j["tokens"][i];
    SSM_CHECK(t.is_string(), source, ": tokens[", i, "] is ", t.type_name(), ", not a string");
    tokens.push_back(t.get<std::string>());
  }
  SSM_CHECK(j.contains("special") && j["special"].is_object(), source,
            ": \"special\" must be an object mapping pad, sos, eos, sep to ids");
  std::map<std::string, int64_t> special;
  for (const auto& [name, id] : j["special"].items()) {
    SSM_CHECK(id.is_number_integer(), source, ": special \"", name, "\" is ", id.type_name(),
              ", not an integer id");
    special[name] = id.get<int64_t>();
  }
  for (const char* name : kSpecialNames)
    SSM_CHECK(special.count(name), source, ": \"special\" has no \"", name, "\"");
  try {
    return std::make_unique<CharTokenizer>(std::move(tokens), std::move(special));
  } catch (const Error& e) {
    SSM_FAIL(source, ": ", e.what());
  }
}

}  // namespace ssm::data
