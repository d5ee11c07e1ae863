// Tokenizers, and the file a model dir keeps one in: ssm_tokenizer.json. (Not "tokenizer.json":
// Hugging Face tools read that name as the `tokenizers` library's format, which this is not.)
//   {"type": "char", "tokens": ["<pad>", "<sos>", "<eos>", "<sep>", "a", ..., "z", "-"],
//    "special": {"pad": 0, "sos": 1, "eos": 2, "sep": 3}}
//   {"type": "byte"}
// Loading validates everything and throws ssm::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ssm::data {

inline constexpr const char* kTokenizerFile = "ssm_tokenizer.json";

// The special tokens a model's config.json names (transformers' pad_token_id, bos_token_id,
// eos_token_id); none where the tokenizer has no such token.
struct SpecialIds {
  std::optional<int64_t> pad, bos, eos;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string type() const = 0;  // "char" or "byte", as in the file
  virtual int64_t vocab_size() const = 0;
  // ssm::Error naming the character and its 1-based position when it has no id.
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  // ssm::Error for an id outside [0, vocab_size). Special tokens come out as their names.
  virtual std::string decode(std::span<const int64_t> ids) const = 0;
  virtual std::string to_json() const = 0;  // the file's content
  virtual SpecialIds special_ids() const = 0;
};

// One id per character, special tokens first. The default is the Pig-Latin vocabulary, 31 ids:
//   0 <pad>, 1 <sos>, 2 <eos>, 3 <sep>, 4..29 'a'..'z', 30 '-'.
class CharTokenizer final : public Tokenizer {
 public:
  CharTokenizer();
  // tokens[i] is the text of id i: a single character, or "<name>" for a special token, which
  // `special` must map from name to i. pad, sos, eos and sep are required.
  CharTokenizer(std::vector<std::string> tokens, std::map<std::string, int64_t> special);

  int64_t pad() const { return pad_; }
  int64_t sos() const { return sos_; }
  int64_t eos() const { return eos_; }
  int64_t sep() const { return sep_; }
  const std::vector<std::string>& tokens() const { return tokens_; }

  std::string type() const override { return "char"; }
  int64_t vocab_size() const override { return int64_t(tokens_.size()); }
  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int64_t> ids) const override;
  std::string to_json() const override;
  SpecialIds special_ids() const override { return {pad_, sos_, eos_}; }

 private:
  std::vector<std::string> tokens_;
  std::map<std::string, int64_t> special_;
  int64_t ids_[256];  // character -> id, -1 when absent
  int64_t pad_, sos_, eos_, sep_;
};

// Bytes are ids: 256 of them, UTF-8 text encoded byte by byte. Never fails to encode.
class ByteTokenizer final : public Tokenizer {
 public:
  std::string type() const override { return "byte"; }
  int64_t vocab_size() const override { return 256; }
  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int64_t> ids) const override;
  std::string to_json() const override;
  SpecialIds special_ids() const override { return {}; }  // bytes only: no special tokens
};

// Writes `tok` to `path` atomically.
void save_tokenizer(const Tokenizer& tok, const std::string& path);
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
// `source` names the text in error messages.
std::unique_ptr<Tokenizer> parse_tokenizer(std::string_view json_text, const std::string& source);

}  // namespace ssm::data
