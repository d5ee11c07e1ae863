// A reader for the part of R's serialization format that R packages' data sets use (R Internals,
// "Serialization Formats"; R's src/main/serialize.c), and for the lazy-load databases
// (`data/Rdata.rdb` + `.rdx`) that installed packages keep them in.
//
// Supported: the XDR format ("X\n", big-endian), versions 2 and 3 (3 adds the native encoding
// name to the header); NULL, logical, integer and character vectors (NA_character_ included,
// Latin-1 strings converted to UTF-8), generic vectors (lists), long-vector lengths, attribute
// pairlists with symbol tags, and references back to earlier symbols. Everything else (doubles,
// closures, environments, ALTREP compact sequences, the ASCII and native-binary formats, ...) is
// rejected with an ssm::Error naming the type, as are truncated or malformed bytes: a hostile
// file gives an error, never a crash (nesting depth and every length are checked before use).
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ssm::data::rdata {

inline constexpr int32_t kNaInteger = INT32_MIN;  // R's NA_integer_ and NA (logical)

struct Attribute;

struct Value {
  enum class Type { null, logical, integer, string, list };
  Type type = Type::null;
  std::vector<int32_t> ints;                        // logical (0, 1, NA) and integer
  std::vector<std::optional<std::string>> strings;  // UTF-8; NA_character_ is nullopt
  std::vector<Value> list;
  std::vector<Attribute> attributes;  // in file order: names, class, ...

  int64_t size() const;
  const Value* attribute(std::string_view name) const;  // null when absent
};

// A tagged attribute. Not a std::pair<std::string, Value>: std::pair, unlike std::vector, does not
// allow an incomplete type such as Value inside its own definition, and clang rejects it.
struct Attribute {
  std::string name;
  Value value;
};

const char* type_name(Value::Type type);  // "character vector", ...

// Decodes one serialized object; every byte must belong to it. `source` names the data in errors.
Value unserialize(std::span<const uint8_t> bytes, const std::string& source);

// Inflates a zlib or gzip stream (told apart by its header). With expected_size >= 0 the output
// must have exactly that many bytes; the output is capped at 1 GiB either way.
std::vector<uint8_t> inflate(std::span<const uint8_t> compressed, int64_t expected_size,
                             const std::string& source);

// A lazy-load database: `rdx` is a serialized index (gzip-compressed or not), a list with
// `variables` (object name -> integer (offset, length) into `rdb`) and `compressed` (TRUE: each
// record is a 4-byte big-endian uncompressed size and a zlib stream; FALSE: plain; bzip2 and xz
// are rejected). Returns every variable, decoded.
std::map<std::string, Value> read_lazyload_db(std::span<const uint8_t> rdb,
                                              std::span<const uint8_t> rdx,
                                              const std::string& source);
std::map<std::string, Value> read_lazyload_db(const std::string& rdb_path,
                                              const std::string& rdx_path);

}  // namespace ssm::data::rdata
