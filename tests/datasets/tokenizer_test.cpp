// Tokenizers: the Pig-Latin vocabulary, round trips, errors, and ssm_tokenizer.json files.
#include "data/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "support/errors.h"

using ssm::testing::error_of;

namespace ssm::data {
namespace {

namespace fs = std::filesystem;

std::string parse_error(const std::string& text) {
  return error_of([&] { parse_tokenizer(text, "tok.json"); });
}

TEST(Tokenizer, PigLatinVocabulary) {
  CharTokenizer tok;
  EXPECT_EQ(tok.vocab_size(), 31);
  EXPECT_EQ(tok.pad(), 0);
  EXPECT_EQ(tok.sos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_EQ(tok.sep(), 3);
  EXPECT_EQ(tok.encode("az-"), (std::vector<int64_t>{4, 29, 30}));
  EXPECT_EQ(tok.tokens()[4], "a");
}

TEST(Tokenizer, CharRoundTrip) {
  CharTokenizer tok;
  for (const char* w : {"pleasure-grounds", "easureplay-oundsgray", "a", ""}) {
    std::vector<int64_t> ids = tok.encode(w);
    EXPECT_EQ(ids.size(), std::string(w).size());
    EXPECT_EQ(tok.decode(ids), w);
  }
  std::vector<int64_t> with_specials = {1, 4, 3, 5, 2, 0};
  EXPECT_EQ(tok.decode(with_specials), "<sos>a<sep>b<eos><pad>");
}

TEST(Tokenizer, CharErrorsNameTheCharacterAndPosition) {
  CharTokenizer tok;
  std::string m = error_of([&] { tok.encode("abC"); });
  EXPECT_NE(m.find("'C' at character 3 of 'abC' is not in the vocabulary (abcdefghijklmnopqrstuvwxyz-)"),
            std::string::npos) << m;
  m = error_of([&] { tok.encode("a\tb"); });
  EXPECT_NE(m.find("byte 0x09 at character 2"), std::string::npos) << m;
  m = error_of([&] { tok.encode("<sos>"); });  // special tokens are not spelled in text
  EXPECT_NE(m.find("'<' at character 1"), std::string::npos) << m;
  std::vector<int64_t> bad = {4, 31};
  m = error_of([&] { tok.decode(bad); });
  EXPECT_NE(m.find("id 31 at position 2 is outside the vocabulary [0, 31)"), std::string::npos)
      << m;
  bad = {-1};
  EXPECT_NE(error_of([&] { tok.decode(bad); }).find("id -1"), std::string::npos);
}

TEST(Tokenizer, ByteRoundTripAndErrors) {
  ByteTokenizer tok;
  EXPECT_EQ(tok.vocab_size(), 256);
  std::string text = "It is a truth \xc3\xa9\n";
  text.push_back('\0');
  std::vector<int64_t> ids = tok.encode(text);
  ASSERT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[0], 'I');
  EXPECT_EQ(ids[14], 0xC3);
  EXPECT_EQ(ids.back(), 0);
  EXPECT_EQ(tok.decode(ids), text);
  std::vector<int64_t> bad = {65, 256};
  EXPECT_NE(error_of([&] { tok.decode(bad); }).find("id 256 at position 2 is not a byte"),
            std::string::npos);
}

TEST(Tokenizer, SaveAndLoad) {
  fs::path dir = fs::temp_directory_path() / ("ssm_tok_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / kTokenizerFile).string();

  save_tokenizer(CharTokenizer(), path);
  auto loaded = load_tokenizer(path);
  ASSERT_EQ(loaded->type(), "char");
  auto* c = dynamic_cast<CharTokenizer*>(loaded.get());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tokens(), CharTokenizer().tokens());
  EXPECT_EQ(c->sep(), 3);
  EXPECT_EQ(c->encode("queen"), CharTokenizer().encode("queen"));
  EXPECT_EQ(loaded->to_json(), CharTokenizer().to_json());

  save_tokenizer(ByteTokenizer(), path);  // replaces the file
  loaded = load_tokenizer(path);
  EXPECT_EQ(loaded->type(), "byte");
  EXPECT_EQ(loaded->vocab_size(), 256);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1)
      << "no temporary file is left behind";
  fs::remove_all(dir);

  std::string m = error_of([&] { load_tokenizer((dir / "missing.json").string()); });
  EXPECT_NE(m.find("missing.json"), std::string::npos) << m;
}

TEST(Tokenizer, FileFormat) {
  std::string json = CharTokenizer().to_json();
  EXPECT_NE(json.find("\"type\": \"char\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"<sep>\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"sep\": 3"), std::string::npos) << json;
  // A hand-written file with another vocabulary loads too.
  auto t = parse_tokenizer(R"({"type": "char", "tokens": ["<sos>", "<eos>", "<pad>", "x", "<sep>", "y"],
                               "special": {"sos": 0, "eos": 1, "pad": 2, "sep": 4}})",
                           "t");
  EXPECT_EQ(t->encode("yx"), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(dynamic_cast<CharTokenizer&>(*t).pad(), 2);
}

TEST(Tokenizer, MalformedFilesAreErrors) {
  const std::string good_tokens = R"("tokens": ["<pad>", "<sos>", "<eos>", "<sep>", "a"])";
  const std::string good_special = R"("special": {"pad": 0, "sos": 1, "eos": 2, "sep": 3})";
  struct Case {
    std::string text, expected;
  };
  std::vector<Case> cases = {
      {"", "tok.json: not valid JSON"},
      {"{\"type\": \"char\",", "not valid JSON"},
      {"[1, 2]", "holds a JSON object, found array"},
      {"{}", "no \"type\" string"},
      {R"({"type": 3})", "no \"type\" string"},
      {R"({"type": "bpe"})", "unknown tokenizer type \"bpe\""},
      {R"({"type": "byte", "tokens": []})", "unknown key \"tokens\" in a \"byte\" tokenizer"},
      {R"({"type": "char", )" + good_special + "}", "\"tokens\" must be a non-empty array"},
      {R"({"type": "char", "tokens": [], )" + good_special + "}", "non-empty array"},
      {R"({"type": "char", "tokens": ["<pad>", 5], )" + good_special + "}",
       "tokens[1] is number, not a string"},
      {R"({"type": "char", )" + good_tokens + "}", "\"special\" must be an object"},
      {R"({"type": "char", )" + good_tokens + R"(, "special": {"pad": 0, "sos": 1, "eos": 2}})",
       "\"special\" has no \"sep\""},
      {R"({"type": "char", )" + good_tokens + R"(, "special": {"pad": 0, "sos": 1, "eos": 2, "sep": "3"}})",
       "special \"sep\" is string, not an integer id"},
      {R"({"type": "char", )" + good_tokens + R"(, "special": {"pad": 0, "sos": 1, "eos": 2, "sep": 9}})",
       "special token 'sep' has id 9, outside [0, 5)"},
      {R"({"type": "char", )" + good_tokens + R"(, "special": {"pad": 0, "sos": 1, "eos": 2, "sep": 4}})",
       "token 4 is 'a', not '<sep>'"},
      {R"({"type": "char", "tokens": ["<pad>", "<sos>", "<eos>", "<sep>", "ab"], )" + good_special + "}",
       "token 4 ('ab') must be one character"},
      {R"({"type": "char", "tokens": ["<pad>", "<sos>", "<eos>", "<sep>", "a", "a"], )" + good_special + "}",
       "'a' is both token 4 and token 5"},
      {R"({"type": "char", "extra": 1, )" + good_tokens + ", " + good_special + "}",
       "unknown key \"extra\""},
      {R"({"type": "char", "tokens": [[[[["a"]]]]], )" + good_special + "}", "nested deeper"},
  };
  for (const Case& c : cases) {
    std::string m = parse_error(c.text);
    EXPECT_NE(m.find(c.expected), std::string::npos) << c.text << "\n  gave: " << m;
    EXPECT_EQ(m.rfind("tok.json", 0), 0u) << "errors name the file: " << m;
  }
  std::string deep(100000, '[');
  EXPECT_NE(parse_error(deep).find("tok.json"), std::string::npos);
}

}  // namespace
}  // namespace ssm::data
