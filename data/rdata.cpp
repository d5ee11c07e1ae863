#include "data/rdata.h"

#include <zlib.h>

#include <algorithm>

#include "core/error.h"
#include "core/file.h"

namespace ssm::data::rdata {

namespace {

// SEXP type codes and pseudo-types of the serialization format (R's Rinternals.h, serialize.c).
constexpr int kSymSxp = 1, kListSxp = 2, kCharSxp = 9, kLglSxp = 10, kIntSxp = 13, kStrSxp = 16,
              kVecSxp = 19, kExprSxp = 20, kRefSxp = 255, kNilValueSxp = 254;
// Flag bits: type in the low byte, then is-object, has-attributes, has-tag, and the 16-bit levels.
constexpr uint32_t kHasAttr = 1u << 9, kHasTag = 1u << 10;
constexpr uint32_t kLatin1Mask = 1u << 2;  // in the levels of a CHARSXP
// Nested lists and attributes deeper than this are refused, so input cannot exhaust the stack.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxInflated = size_t(1) << 30;

std::string sexp_name(int type) {
  switch (type) {
    case 0: return "NULL (NILSXP)";
    case 1: return "symbol (SYMSXP)";
    case 2: return "pairlist (LISTSXP)";
    case 3: return "closure (CLOSXP)";
    case 4: return "environment (ENVSXP)";
    case 5: return "promise (PROMSXP)";
    case 6: return "language object (LANGSXP)";
    case 9: return "string (CHARSXP)";
    case 10: return "logical vector (LGLSXP)";
    case 13: return "integer vector (INTSXP)";
    case 14: return "double vector (REALSXP)";
    case 15: return "complex vector (CPLXSXP)";
    case 16: return "character vector (STRSXP)";
    case 19: return "list (VECSXP)";
    case 20: return "expression vector (EXPRSXP)";
    case 24: return "raw vector (RAWSXP)";
    case 25: return "S4 object (S4SXP)";
    case 238: return "ALTREP object";
    case 239: return "attributed pairlist (ATTRLISTSXP)";
    case 240: return "attributed language object (ATTRLANGSXP)";
    case 253: return "global environment";
    case 255: return "reference (REFSXP)";
    default: return "SEXP type " + std::to_string(type);
  }
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += char(c);
    } else {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& source)
      : bytes_(bytes), source_(source) {}

  Value read_object() {
    SSM_CHECK(bytes_.size() >= 2, source_, ": not R serialized data (", bytes_.size(), " bytes)");
    char f0 = char(bytes_[0]), f1 = char(bytes_[1]);
    if (f0 == 'A' || f0 == 'B')
      SSM_FAIL(source_, ": R serialization format '", f0,
               "' (ASCII or native binary) is not supported; only XDR ('X')");
    SSM_CHECK(f0 == 'X' && f1 == '\n', source_, ": not R serialized data (no \"X\\n\" header)");
    pos_ = 2;
    int32_t version = read_int("format version");
    SSM_CHECK(version == 2 || version == 3, source_, ": R serialization version ", version,
              " is not supported (2 or 3)");
    read_int("writer version");
    read_int("minimal reader version");
    if (version == 3) {
      int32_t n = read_int("native encoding length");
      SSM_CHECK(n >= 0 && n <= 64, source_, ": bad native encoding length ", n);
      need(size_t(n), "native encoding name");
      pos_ += size_t(n);
    }
    Value v = read_item(read_flags(), 0);
    SSM_CHECK(pos_ == bytes_.size(), source_, ": ", bytes_.size() - pos_,
              " unexpected bytes after the object (at byte ", pos_, ")");
    return v;
  }

 private:
  void need(size_t n, const char* what) {
    SSM_CHECK(bytes_.size() - pos_ >= n, source_, ": truncated at byte ", pos_, ": ", what,
              " needs ", n, " bytes, ", bytes_.size() - pos_, " left");
  }

  int32_t read_int(const char* what) {
    need(4, what);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += 4;
    return int32_t(uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]);
  }

  uint32_t read_flags() { return uint32_t(read_int("item header")); }

  // A vector length; `min_bytes` per element bounds it by the bytes left before anything is
  // allocated.
  size_t read_length(size_t min_bytes, const char* what) {
    int64_t n = read_int(what);
    if (n == -1) {  // a long vector: upper and lower 32 bits follow
      int64_t hi = read_int(what), lo = uint32_t(read_int(what));
      SSM_CHECK(hi >= 0 && hi < (1 << 20), source_, ": bad long-vector length of ", what);
      n = (hi << 32) | lo;
    }
    SSM_CHECK(n >= 0, source_, ": negative length ", n, " of ", what, " at byte ", pos_);
    SSM_CHECK(uint64_t(n) <= (bytes_.size() - pos_) / min_bytes, source_, ": ", what,
              " claims ", n, " elements but only ", bytes_.size() - pos_, " bytes are left");
    return size_t(n);
  }

  // The string of a CHARSXP whose flags were just read; nullopt for NA_character_.
  std::optional<std::string> read_charsxp(uint32_t flags, int depth) {
    int32_t n = read_int("string length");
    std::optional<std::string> s;
    if (n != -1) {
      SSM_CHECK(n >= 0, source_, ": negative string length ", n, " at byte ", pos_);
      need(size_t(n), "string");
      std::string_view raw(reinterpret_cast<const char*>(bytes_.data() + pos_), size_t(n));
      pos_ += size_t(n);
      uint32_t levels = flags >> 12;
      s = (levels & kLatin1Mask) ? latin1_to_utf8(raw) : std::string(raw);
    }
    if (flags & kHasAttr) read_item(read_flags(), depth + 1);  // old writers; R ignores it too
    return s;
  }

  std::string read_symbol(int depth) {
    uint32_t flags = read_flags();
    int type = int(flags & 0xFF);
    if (type == kRefSxp) {
      int64_t index = flags >> 8;
      if (index == 0) index = read_int("reference index");
      SSM_CHECK(index >= 1 && index <= int64_t(symbols_.size()), source_, ": reference ", index,
                " at byte ", pos_, " points to no earlier symbol (", symbols_.size(), " known)");
      return symbols_[size_t(index - 1)];
    }
    SSM_CHECK(type == kSymSxp, source_, ": expected a symbol (an attribute name) at byte ", pos_,
              ", found ", sexp_name(type));
    uint32_t name_flags = read_flags();
    SSM_CHECK(int(name_flags & 0xFF) == kCharSxp, source_,
              ": a symbol's name must be a string, found ", sexp_name(int(name_flags & 0xFF)));
    std::optional<std::string> name = read_charsxp(name_flags, depth + 1);
    SSM_CHECK(name.has_value(), source_, ": a symbol named NA at byte ", pos_);
    symbols_.push_back(*name);
    return *name;
  }

  // A pairlist of tagged values (the attributes of an object), or NULL.
  std::vector<Attribute> read_attributes(int depth) {
    SSM_CHECK(depth < kMaxDepth, source_, ": objects nested deeper than ", kMaxDepth);
    std::vector<Attribute> out;
    uint32_t flags = read_flags();
    while (int(flags & 0xFF) == kListSxp) {
      if (flags & kHasAttr) read_attributes(depth + 1);  // attributes of the cell itself
      std::string tag = (flags & kHasTag) ? read_symbol(depth + 1) : std::string();
      Value v = read_item(read_flags(), depth + 1);
      out.push_back({std::move(tag), std::move(v)});
      flags = read_flags();
    }
    SSM_CHECK(int(flags & 0xFF) == kNilValueSxp, source_, ": attributes must be a pairlist, found ",
              sexp_name(int(flags & 0xFF)), " at byte ", pos_);
    return out;
  }

  Value read_item(uint32_t flags, int depth) {
    SSM_CHECK(depth < kMaxDepth, source_, ": objects nested deeper than ", kMaxDepth);
    int type = int(flags & 0xFF);
    Value v;
    switch (type) {
      case kNilValueSxp:
        return v;
      case kLglSxp:
      case kIntSxp: {
        v.type = type == kLglSxp ? Value::Type::logical : Value::Type::integer;
        size_t n = read_length(4, type == kLglSxp ? "logical vector" : "integer vector");
        v.ints.resize(n);
        for (size_t i = 0; i < n; ++i) v.ints[i] = read_int("vector element");
        break;
      }
      case kStrSxp: {
        v.type = Value::Type::string;
        size_t n = read_length(8, "character vector");
        v.strings.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          uint32_t f = read_flags();
          SSM_CHECK(int(f & 0xFF) == kCharSxp, source_, ": element ", i,
                    " of a character vector is not a string but ", sexp_name(int(f & 0xFF)));
          v.strings.push_back(read_charsxp(f, depth + 1));
        }
        break;
      }
      case kVecSxp:
      case kExprSxp: {
        v.type = Value::Type::list;
        size_t n = read_length(4, "list");
        v.list.reserve(n);
        for (size_t i = 0; i < n; ++i) v.list.push_back(read_item(read_flags(), depth + 1));
        break;
      }
      default:
        SSM_FAIL(source_, ": unsupported R object: ", sexp_name(type), " at byte ", pos_ - 4,
                 " (this reader handles NULL, logical, integer and character vectors, lists and"
                 " their attributes)");
    }
    if (flags & kHasAttr) v.attributes = read_attributes(depth + 1);
    return v;
  }

  std::span<const uint8_t> bytes_;
  const std::string& source_;
  size_t pos_ = 0;
  std::vector<std::string> symbols_;  // the reference table: symbols in order of appearance
};

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const Value& field(const Value& list, const std::string& name, const std::string& source) {
  const Value* names = list.attribute("names");
  if (names && names->type == Value::Type::string && names->strings.size() == list.list.size())
    for (size_t i = 0; i < list.list.size(); ++i)
      if (names->strings[i] == name) return list.list[i];
  SSM_FAIL(source, ": the lazy-load index has no '", name, "' entry");
}

}  // namespace

int64_t Value::size() const {
  switch (type) {
    case Type::null: return 0;
    case Type::logical:
    case Type::integer: return int64_t(ints.size());
    case Type::string: return int64_t(strings.size());
    case Type::list: return int64_t(list.size());
  }
  return 0;
}

const Value* Value::attribute(std::string_view name) const {
  for (const Attribute& a : attributes)
    if (a.name == name) return &a.value;
  return nullptr;
}

const char* type_name(Value::Type type) {
  switch (type) {
    case Value::Type::null: return "NULL";
    case Value::Type::logical: return "logical vector";
    case Value::Type::integer: return "integer vector";
    case Value::Type::string: return "character vector";
    case Value::Type::list: return "list";
  }
  return "?";
}

Value unserialize(std::span<const uint8_t> bytes, const std::string& source) {
  return Reader(bytes, source).read_object();
}

std::vector<uint8_t> inflate(std::span<const uint8_t> compressed, int64_t expected_size,
                             const std::string& source) {
  SSM_CHECK(compressed.size() <= UINT32_MAX, source, ": compressed stream over 4 GiB");
  SSM_CHECK(expected_size <= int64_t(kMaxInflated), source, ": declared size ", expected_size,
            " exceeds the 1 GiB limit");
  size_t cap = expected_size >= 0 ? size_t(expected_size) : kMaxInflated;
  std::vector<uint8_t> out(std::min(cap, size_t(1) << 16));
  z_stream zs{};
  // 15 + 32: a 32 KiB window, and zlib or gzip told apart by the header.
  SSM_CHECK(inflateInit2(&zs, 15 + 32) == Z_OK, source, ": zlib initialisation failed");
  zs.next_in = const_cast<Bytef*>(compressed.data());
  zs.avail_in = uInt(compressed.size());
  uint8_t spare = 0;  // output room past the cap: the stream must end without using it
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out == out.size() && out.size() < cap) out.resize(std::min(out.size() * 2, cap));
    bool full = zs.total_out == out.size();
    zs.next_out = full ? &spare : out.data() + zs.total_out;
    zs.avail_out = full ? 1 : uInt(out.size() - zs.total_out);
    rc = ::inflate(&zs, Z_NO_FLUSH);
    std::string msg = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
    size_t produced = zs.total_out, left = zs.avail_in;
    bool overflow = produced > out.size();
    if (overflow || (rc != Z_OK && rc != Z_STREAM_END) || (rc == Z_STREAM_END && left != 0))
      inflateEnd(&zs);
    SSM_CHECK(!overflow, source, ": compressed stream holds more than ",
              expected_size >= 0 ? "its declared " : "the limit of ", out.size(), " bytes");
    SSM_CHECK(rc != Z_BUF_ERROR, source, ": compressed stream is truncated (", produced,
              " bytes inflated)");
    SSM_CHECK(rc == Z_OK || rc == Z_STREAM_END, source, ": corrupt compressed stream (", msg, ")");
    SSM_CHECK(rc != Z_STREAM_END || left == 0, source, ": ", left,
              " unexpected bytes after the compressed stream");
  }
  size_t produced = zs.total_out;
  inflateEnd(&zs);
  SSM_CHECK(expected_size < 0 || produced == size_t(expected_size), source,
            ": compressed stream holds ", produced, " bytes, its header says ", expected_size);
  out.resize(produced);
  return out;
}

std::map<std::string, Value> read_lazyload_db(std::span<const uint8_t> rdb,
                                              std::span<const uint8_t> rdx,
                                              const std::string& source) {
  std::string index_source = source + " (index)";
  std::vector<uint8_t> inflated;
  if (rdx.size() >= 2 && rdx[0] == 0x1f && rdx[1] == 0x8b) {
    inflated = inflate(rdx, -1, index_source);
    rdx = inflated;
  }
  Value index = unserialize(rdx, index_source);
  SSM_CHECK(index.type == Value::Type::list, index_source, ": the index is a ",
            type_name(index.type), ", expected a list");
  const Value& vars = field(index, "variables", index_source);
  const Value& comp = field(index, "compressed", index_source);
  SSM_CHECK((comp.type == Value::Type::logical || comp.type == Value::Type::integer) &&
                comp.ints.size() == 1 && comp.ints[0] != kNaInteger,
            index_source, ": 'compressed' must be TRUE, FALSE or an integer code");
  int32_t method = comp.ints[0];
  std::string method_name = method == 2   ? "bzip2"
                            : method == 3 ? "xz"
                                          : "an unknown method (" + std::to_string(method) + ")";
  SSM_CHECK(method == 0 || method == 1, index_source, ": records compressed with ", method_name,
            " are not supported (zlib only)");
  SSM_CHECK(vars.type == Value::Type::list || vars.type == Value::Type::null, index_source,
            ": 'variables' is a ", type_name(vars.type), ", expected a list");
  const Value* names = vars.attribute("names");
  SSM_CHECK(vars.list.empty() || (names && names->type == Value::Type::string &&
                                  names->strings.size() == vars.list.size()),
            index_source, ": 'variables' has no names");

  std::map<std::string, Value> out;
  for (size_t i = 0; i < vars.list.size(); ++i) {
    SSM_CHECK(names->strings[i].has_value(), index_source, ": variable ", i, " is named NA");
    const std::string& name = *names->strings[i];
    std::string where = source + ": object '" + name + "'";
    const Value& loc = vars.list[i];
    SSM_CHECK(loc.type == Value::Type::integer && loc.ints.size() == 2 && loc.ints[0] >= 0 &&
                  loc.ints[1] >= 0,
              where, ": its index entry must be two non-negative integers (offset, length)");
    size_t offset = size_t(loc.ints[0]), length = size_t(loc.ints[1]);
    SSM_CHECK(offset <= rdb.size() && length <= rdb.size() - offset, where, ": bytes [", offset,
              ", ", offset + length, ") lie beyond the end of the database (", rdb.size(),
              " bytes)");
    std::span<const uint8_t> record = rdb.subspan(offset, length);
    if (method == 0) {
      out[name] = unserialize(record, where);
      continue;
    }
    SSM_CHECK(record.size() >= 4, where, ": record of ", record.size(),
              " bytes is too short for its size header");
    int64_t size = int64_t(uint32_t(record[0]) << 24 | uint32_t(record[1]) << 16 |
                           uint32_t(record[2]) << 8 | record[3]);
    std::vector<uint8_t> bytes = inflate(record.subspan(4), size, where);
    out[name] = unserialize(bytes, where);
  }
  return out;
}

std::map<std::string, Value> read_lazyload_db(const std::string& rdb_path,
                                              const std::string& rdx_path) {
  std::string rdb = read_file(rdb_path), rdx = read_file(rdx_path);
  return read_lazyload_db(as_bytes(rdb), as_bytes(rdx), rdb_path);
}

}  // namespace ssm::data::rdata
