// The R serialization reader on hand-made XDR blobs, wrapped in zlib and gzip streams that this
// test writes itself (stored deflate blocks: an encoder independent of the zlib we read with),
// and on truncated and corrupt variants: every one must give an ssm::Error, never a crash.
#include "data/rdata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "core/error.h"
#include "support/errors.h"

using ssm::testing::error_of;

namespace ssm::data::rdata {
namespace {

using Bytes = std::vector<uint8_t>;

// Builds R's XDR serialization by hand.
struct Xdr {
  Bytes b;
  Xdr& i32(int64_t v) {
    auto u = uint32_t(v);
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(u >> s));
    return *this;
  }
  Xdr& raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Xdr& header(int version = 3) {
    raw("X\n").i32(version).i32(0x040201).i32(0x030500);
    if (version == 3) i32(5).raw("UTF-8");
    return *this;
  }
  // A CHARSXP; levels 64 = ASCII, 8 = UTF-8, 4 = Latin-1.
  Xdr& chars(const std::optional<std::string>& s, uint32_t levels = 64) {
    i32(9 | levels << 12);
    return s ? i32(int64_t(s->size())).raw(*s) : i32(-1);
  }
  Xdr& strings(const std::vector<std::optional<std::string>>& v, bool attr = false) {
    i32(16 | (attr ? 1 << 9 : 0)).i32(int64_t(v.size()));
    for (const auto& s : v) chars(s);
    return *this;
  }
  Xdr& ints(const std::vector<int32_t>& v, int type = 13, bool attr = false) {
    i32(type | (attr ? 1 << 9 : 0)).i32(int64_t(v.size()));
    for (int32_t x : v) i32(x);
    return *this;
  }
  Xdr& list_start(size_t n, bool attr = false) { return i32(19 | (attr ? 1 << 9 : 0)).i32(int64_t(n)); }
  // One attribute cell tagged with a new symbol, or with reference `ref` to an earlier one.
  Xdr& tag_cell(const std::string& name, int ref = 0) {
    i32(2 | 1 << 10);
    return ref ? i32(255 | ref << 8) : i32(1).chars(name);
  }
  Xdr& nil() { return i32(254); }
};

uint32_t adler32(const Bytes& d) {
  uint32_t a = 1, b = 0;
  for (uint8_t x : d) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

uint32_t crc32(const Bytes& d) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t x : d) {
    c ^= x;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

// Raw deflate made of stored (uncompressed) blocks.
Bytes deflate_stored(const Bytes& d) {
  Bytes out;
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(d.size() - pos, 65535);
    bool last = pos + n == d.size();
    out.push_back(last ? 1 : 0);
    out.push_back(uint8_t(n));
    out.push_back(uint8_t(n >> 8));
    out.push_back(uint8_t(~n));
    out.push_back(uint8_t(~n >> 8));
    out.insert(out.end(), d.begin() + std::ptrdiff_t(pos), d.begin() + std::ptrdiff_t(pos + n));
    pos += n;
  } while (pos < d.size());
  return out;
}

Bytes zlib_stream(const Bytes& d) {
  Bytes out = {0x78, 0x01};
  Bytes body = deflate_stored(d);
  out.insert(out.end(), body.begin(), body.end());
  uint32_t a = adler32(d);
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(a >> s));
  return out;
}

Bytes gzip_stream(const Bytes& d) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  Bytes body = deflate_stored(d);
  out.insert(out.end(), body.begin(), body.end());
  uint32_t c = crc32(d), n = uint32_t(d.size());
  for (int s = 0; s < 32; s += 8) out.push_back(uint8_t(c >> s));
  for (int s = 0; s < 32; s += 8) out.push_back(uint8_t(n >> s));
  return out;
}

// A lazy-load record: 4-byte big-endian size, then the zlib stream.
Bytes record(const Bytes& serialized) {
  Bytes z = zlib_stream(serialized);
  Bytes out(4 + z.size());
  auto n = uint32_t(serialized.size());
  for (int k = 0; k < 4; ++k) out[size_t(k)] = uint8_t(n >> (24 - 8 * k));
  std::copy(z.begin(), z.end(), out.begin() + 4);
  return out;
}

std::string unserialize_error(const Bytes& b) {
  return error_of([&] { unserialize(b, "blob"); });
}

Bytes novel_blob(int version = 3) {
  return Xdr().header(version).strings({"EMMA", "", std::nullopt, "By Jane Austen"}).b;
}

TEST(Rdata, CharacterVectorVersions2And3) {
  for (int version : {2, 3}) {
    Value v = unserialize(novel_blob(version), "blob");
    ASSERT_EQ(v.type, Value::Type::string);
    ASSERT_EQ(v.size(), 4);
    EXPECT_EQ(v.strings[0], "EMMA");
    EXPECT_EQ(v.strings[1], "");
    EXPECT_FALSE(v.strings[2].has_value()) << "NA_character_";
    EXPECT_EQ(v.strings[3], "By Jane Austen");
  }
}

TEST(Rdata, EncodingsAndLongLengths) {
  Xdr x;
  x.header().i32(16).i32(3);
  x.chars("caf\xc3\xa9", 8);   // UTF-8: kept
  x.chars("caf\xe9", 4);       // Latin-1: converted
  x.chars("plain", 0);         // native (the header says UTF-8): kept
  Value v = unserialize(x.b, "blob");
  EXPECT_EQ(v.strings[0], "caf\xc3\xa9");
  EXPECT_EQ(v.strings[1], "caf\xc3\xa9");
  EXPECT_EQ(v.strings[2], "plain");

  Xdr l;  // a long-vector length: -1, then the upper and lower 32 bits
  l.header().i32(13).i32(-1).i32(0).i32(2).i32(7).i32(kNaInteger);
  Value ints = unserialize(l.b, "blob");
  EXPECT_EQ(ints.ints, (std::vector<int32_t>{7, kNaInteger}));
}

// list(a = 1:2 (as plain integers), b = c("x", NA), flag = TRUE) with names, plus a class
// attribute on the list whose tag is a reference back to an earlier symbol.
Bytes named_list_blob() {
  Xdr x;
  x.header().list_start(3, true);
  x.ints({1, 2}, 13, true).tag_cell("dim").ints({2}).nil();  // an attributed element
  x.strings({"x", std::nullopt});
  x.ints({1}, 10);
  x.tag_cell("names").strings({"a", "b", "flag"});
  x.tag_cell("", 2).strings({"data.frame"});  // ref 2: "names" (ref 1 is "dim")
  x.nil();
  return x.b;
}

TEST(Rdata, ListsAttributesAndSymbolReferences) {
  Value v = unserialize(named_list_blob(), "blob");
  ASSERT_EQ(v.type, Value::Type::list);
  ASSERT_EQ(v.size(), 3);
  EXPECT_EQ(v.list[0].type, Value::Type::integer);
  EXPECT_EQ(v.list[0].ints, (std::vector<int32_t>{1, 2}));
  ASSERT_NE(v.list[0].attribute("dim"), nullptr);
  EXPECT_EQ(v.list[0].attribute("dim")->ints, std::vector<int32_t>{2});
  EXPECT_EQ(v.list[2].type, Value::Type::logical);
  ASSERT_EQ(v.attributes.size(), 2u);
  EXPECT_EQ(v.attributes[0].name, "names");
  EXPECT_EQ(v.attributes[1].name, "names") << "the second tag refers back to 'names'";
  EXPECT_EQ(v.attribute("names")->strings[2], "flag");
  EXPECT_EQ(v.attribute("missing"), nullptr);
}

TEST(Rdata, InflatesZlibAndGzip) {
  Bytes data = novel_blob();
  EXPECT_EQ(inflate(zlib_stream(data), int64_t(data.size()), "z"), data);
  EXPECT_EQ(inflate(gzip_stream(data), -1, "z"), data);
  Bytes big(200000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 7);
  EXPECT_EQ(inflate(zlib_stream(big), -1, "z"), big) << "several blocks, a growing buffer";
  EXPECT_EQ(inflate(zlib_stream({}), 0, "z"), Bytes{});
}

TEST(Rdata, InflateErrors) {
  Bytes data = novel_blob();
  Bytes z = zlib_stream(data);
  std::string m = error_of([&] { inflate(z, int64_t(data.size()) + 1, "z"); });
  EXPECT_NE(m.find("z: compressed stream holds " + std::to_string(data.size()) + " bytes, its header says"),
            std::string::npos) << m;
  m = error_of([&] { inflate(z, int64_t(data.size()) - 1, "z"); });
  EXPECT_NE(m.find("holds more than its declared"), std::string::npos) << m;
  m = error_of([&] { inflate(Bytes(z.begin(), z.end() - 6), -1, "z"); });
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  Bytes bad_sum = z;
  bad_sum.back() ^= 1;
  m = error_of([&] { inflate(bad_sum, -1, "z"); });
  EXPECT_NE(m.find("corrupt compressed stream (incorrect data check)"), std::string::npos) << m;
  Bytes trailing = z;
  trailing.push_back(0);
  m = error_of([&] { inflate(trailing, -1, "z"); });
  EXPECT_NE(m.find("1 unexpected bytes after the compressed stream"), std::string::npos) << m;
  m = error_of([&] { inflate(Bytes{'n', 'o', 't', ' ', 'z'}, -1, "z"); });
  EXPECT_NE(m.find("corrupt compressed stream"), std::string::npos) << m;
  m = error_of([&] { inflate(z, int64_t(2) << 30, "z"); });
  EXPECT_NE(m.find("exceeds the 1 GiB limit"), std::string::npos) << m;
}

TEST(Rdata, MalformedBlobsAreErrors) {
  EXPECT_NE(unserialize_error({}).find("blob: not R serialized data"), std::string::npos);
  EXPECT_NE(unserialize_error({'R', 'D', 'X', '3'}).find("no \"X\\n\" header"), std::string::npos);
  EXPECT_NE(unserialize_error({'A', '\n', '2'}).find("format 'A'"), std::string::npos);
  EXPECT_NE(unserialize_error(Xdr().header(4).b).find("version 4 is not supported"),
            std::string::npos);
  // Unsupported types name themselves.
  std::string m = unserialize_error(Xdr().header().i32(14).i32(1).i32(0).i32(0).b);
  EXPECT_NE(m.find("unsupported R object: double vector (REALSXP)"), std::string::npos) << m;
  m = unserialize_error(Xdr().header().i32(238).b);
  EXPECT_NE(m.find("ALTREP"), std::string::npos) << m;
  m = unserialize_error(Xdr().header().i32(4).b);
  EXPECT_NE(m.find("environment (ENVSXP)"), std::string::npos) << m;
  // A character vector holding something other than strings.
  m = unserialize_error(Xdr().header().i32(16).i32(1).ints({1}).b);
  EXPECT_NE(m.find("element 0 of a character vector is not a string but integer vector"), std::string::npos) << m;
  // Lengths beyond the data, negative lengths, trailing bytes.
  m = unserialize_error(Xdr().header().i32(16).i32(1000000000).b);
  EXPECT_NE(m.find("claims 1000000000 elements"), std::string::npos) << m;
  m = unserialize_error(Xdr().header().i32(13).i32(-5).b);
  EXPECT_NE(m.find("negative length -5"), std::string::npos) << m;
  m = unserialize_error(Xdr().header().i32(16).i32(1).i32(0x40009).i32(-2).b);
  EXPECT_NE(m.find("negative string length -2"), std::string::npos) << m;
  Bytes extra = novel_blob();
  extra.push_back(0);
  m = unserialize_error(extra);
  EXPECT_NE(m.find("1 unexpected bytes after the object"), std::string::npos) << m;
  // A reference to a symbol never seen, an attribute list that is not a pairlist.
  m = unserialize_error(Xdr().header().ints({1}, 13, true).i32(2 | 1 << 10).i32(255 | 3 << 8).b);
  EXPECT_NE(m.find("reference 3"), std::string::npos) << m;
  m = unserialize_error(Xdr().header().ints({1}, 13, true).ints({2}).b);
  EXPECT_NE(m.find("attributes must be a pairlist"), std::string::npos) << m;
  // Deep nesting is refused before it exhausts the stack.
  Xdr deep;
  deep.header();
  for (int i = 0; i < 100000; ++i) deep.list_start(1);
  deep.nil();
  m = unserialize_error(deep.b);
  EXPECT_NE(m.find("nested deeper than 64"), std::string::npos) << m;
}

TEST(Rdata, EveryTruncationIsAnError) {
  for (const Bytes& blob : {novel_blob(), named_list_blob()})
    for (size_t n = 0; n < blob.size(); ++n) {
      std::string m = unserialize_error(Bytes(blob.begin(), blob.begin() + std::ptrdiff_t(n)));
      EXPECT_NE(m.find("blob"), std::string::npos) << "cut at " << n << ": " << m;
    }
}

TEST(Rdata, CorruptBytesGiveAValueOrAnError) {
  Bytes blob = named_list_blob();
  for (size_t i = 0; i < blob.size(); ++i)
    for (uint8_t flip : {0x01, 0x80, 0xFF}) {
      Bytes b = blob;
      b[i] ^= flip;
      try {
        unserialize(b, "blob");
      } catch (const Error&) {
      }
    }
}

// rdx: list(variables = list(<name> = c(offset, length), ...), references = list(),
//           compressed = TRUE), gzip-compressed as R writes it.
Bytes index_blob(const std::vector<std::pair<std::string, std::pair<int, int>>>& vars,
                 int compressed = 1, int type = 10, bool gzipped = true) {
  Xdr x;
  x.header().list_start(3, true);
  x.list_start(vars.size(), true);
  for (const auto& [name, loc] : vars) x.ints({loc.first, loc.second});
  x.tag_cell("names");
  std::vector<std::optional<std::string>> names;
  for (const auto& v : vars) names.push_back(v.first);
  x.strings(names).nil();
  x.list_start(0);
  x.ints({compressed}, type);
  x.tag_cell("", 1).strings({"variables", "references", "compressed"}).nil();
  return gzipped ? gzip_stream(x.b) : x.b;
}

TEST(Rdata, LazyLoadDatabase) {
  Bytes emma = record(novel_blob());
  Bytes other = record(Xdr().header().strings({"PERSUASION"}).b);
  Bytes rdb = emma;
  rdb.insert(rdb.end(), other.begin(), other.end());
  Bytes rdx = index_blob({{"emma", {0, int(emma.size())}},
                          {"persuasion", {int(emma.size()), int(other.size())}}});
  auto db = read_lazyload_db(rdb, rdx, "Rdata.rdb");
  ASSERT_EQ(db.size(), 2u);
  EXPECT_EQ(db["emma"].strings[3], "By Jane Austen");
  EXPECT_EQ(db["persuasion"].strings[0], "PERSUASION");

  // Uncompressed records (compressed = FALSE), and an index that is not gzipped.
  Bytes plain = Xdr().header().strings({"x"}).b;
  Bytes plain_rdx = index_blob({{"x", {0, int(plain.size())}}}, 0, 10, false);
  EXPECT_EQ(read_lazyload_db(plain, plain_rdx, "db")["x"].strings[0], "x");
}

TEST(Rdata, MalformedLazyLoadDatabases) {
  Bytes rec = record(novel_blob());
  int n = int(rec.size());
  auto err = [](const Bytes& rdb, const Bytes& rdx) {
    return error_of([&] { read_lazyload_db(rdb, rdx, "Rdata.rdb"); });
  };
  std::string m = err(rec, index_blob({{"emma", {0, n + 1}}}));
  EXPECT_NE(m.find("Rdata.rdb: object 'emma': bytes [0, " + std::to_string(n + 1) +
                   ") lie beyond the end"), std::string::npos) << m;
  m = err(rec, index_blob({{"emma", {-1, 4}}}));
  EXPECT_NE(m.find("two non-negative integers"), std::string::npos) << m;
  m = err(rec, index_blob({{"emma", {0, 3}}}));
  EXPECT_NE(m.find("too short for its size header"), std::string::npos) << m;
  m = err(rec, index_blob({{"emma", {0, n - 2}}}));
  EXPECT_NE(m.find("object 'emma'"), std::string::npos) << m;
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  m = err(rec, index_blob({{"emma", {0, n}}}, 3, 13));
  EXPECT_NE(m.find("compressed with xz are not supported"), std::string::npos) << m;
  m = err(rec, index_blob({{"emma", {0, n}}}, 2, 13));
  EXPECT_NE(m.find("bzip2"), std::string::npos) << m;
  Bytes corrupt = rec;
  corrupt[10] ^= 0xFF;  // inside the stored block's length fields or data
  EXPECT_NE(err(corrupt, index_blob({{"emma", {0, n}}})).find("object 'emma'"), std::string::npos);
  m = err(rec, gzip_stream(Xdr().header().strings({"x"}).b));
  EXPECT_NE(m.find("Rdata.rdb (index): the index is a character vector, expected a list"),
            std::string::npos) << m;
  Bytes rdx = index_blob({{"emma", {0, n}}});
  m = err(rec, Bytes(rdx.begin(), rdx.end() - 9));
  EXPECT_NE(m.find("Rdata.rdb (index)"), std::string::npos) << m;
  for (size_t cut = 0; cut < rec.size(); ++cut)
    EXPECT_NE(err(Bytes(rec.begin(), rec.begin() + std::ptrdiff_t(cut)), rdx).find("Rdata.rdb"),
              std::string::npos) << cut;
}

}  // namespace
}  // namespace ssm::data::rdata
