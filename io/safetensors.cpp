#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/error.h"

// The format stores little-endian numbers and we copy tensor bytes verbatim.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace ssm::safetensors {

namespace {

using json = nlohmann::json;

// The official reader's limit: it keeps a hostile file from making us parse gigabytes of JSON.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
// A valid header nests three deep (root, entry, shape); anything deeper is rejected before
// nlohmann builds a document, so a crafted "[[[[..." cannot exhaust the stack.
constexpr int kMaxHeaderDepth = 3;
// Writers pad the header with spaces so the byte buffer starts 8-byte aligned (official writer).
constexpr size_t kHeaderAlign = 8;
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypeNames[] = {
    {"F32", DType::f32}, {"F64", DType::f64}, {"BF16", DType::bf16}, {"F16", DType::f16},
    {"I32", DType::i32}, {"I64", DType::i64}, {"BOOL", DType::b8},   {"C64", DType::c64},
};
constexpr const char* kSupportedList = "F32, F64, BF16, F16, I32, I64, BOOL, C64";
// Official dtypes we have no tensor type for: named as unsupported rather than unknown.
constexpr const char* kOfficialUnsupported[] = {
    "U8", "I8", "U16", "I16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3",
    "F6_E3M2"};

// One tensor's header entry, validated; offsets are relative to the byte buffer.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t buffer_start = 0;  // file offset of the byte buffer: 8 + header size
};

// nlohmann quotes the bytes it choked on, which may be invalid UTF-8; messages stay printable.
std::string ascii(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  return s;
}

// Names and values from the file appear in messages at most this long (a key may be 100 MB),
// cut on a UTF-8 character boundary.
std::string clip(const std::string& s, size_t max = 80) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// A short rendering of a JSON value for error messages.
std::string excerpt(const json& v) { return clip(v.dump()); }

template <class... Args>
[[noreturn]] void fail(const std::string& source, const Args&... args) {
  SSM_FAIL("safetensors: ", source, ": ", args...);
}

template <class... Args>
[[noreturn]] void fail_tensor(const std::string& source, const std::string& name,
                              const Args&... args) {
  fail(source, "tensor '", clip(name), "': ", args...);
}

// "safetensors: <what> '<path>' failed: <strerror>", from errno.
[[noreturn]] void fail_os(const std::string& what, const std::string& path) {
  SSM_FAIL("safetensors: ", what, " '", path, "' failed: ", std::strerror(errno));
}

const char* dtype_string(DType dtype) {
  for (const auto& d : kDTypeNames)
    if (d.dtype == dtype) return d.name;
  return nullptr;
}

// ---- reading ------------------------------------------------------------------------------------

void check_min_size(size_t size, const std::string& source) {
  if (size < 8)
    fail(source, "file is ", size,
         " bytes, shorter than the 8-byte header size that starts every safetensors file");
}

uint64_t read_header_size(std::span<const uint8_t> bytes, const std::string& source) {
  check_min_size(bytes.size(), source);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderSize)
    fail(source, "header size ", n, " exceeds the ", kMaxHeaderSize,
         "-byte limit (not a safetensors file, or a corrupt one)");
  if (n > bytes.size() - 8)
    fail(source, "header size ", n, " is larger than the ", bytes.size() - 8,
         " bytes after it (truncated file?)");
  return n;
}

// A SAX pass over the header that rejects what nlohmann's parser would accept silently:
// duplicate keys (it keeps the last one, so two tensors could claim one name) and nesting
// deeper than a valid header has. (nlohmann's callback parser could do this too, but it rescans
// the parent object at every object end: O(n^2) in the number of tensors.)
class HeaderChecker : public nlohmann::json_sax<json> {
 public:
  explicit HeaderChecker(const std::string& source) : source_(source) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    open();
    objects_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    if (objects_.size() == 1) entry_ = key;
    if (!objects_.back().insert(key).second) {
      if (objects_.size() == 1)
        fail(source_, "duplicate tensor name '", clip(key), "' in the header");
      fail(source_, "duplicate key '", clip(key), "' in the entry of '", clip(entry_), "'");
    }
    return true;
  }
  bool end_object() override {
    objects_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    open();
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail(source_, "header is not valid UTF-8 JSON (", ascii(e.what()), ")");
  }

 private:
  void open() {
    if (++depth_ > kMaxHeaderDepth)
      fail(source_, "header JSON nests deeper than the ", kMaxHeaderDepth,
           " levels a safetensors header has");
  }

  const std::string& source_;
  int depth_ = 0;
  std::vector<std::set<std::string>> objects_;  // keys seen in each object being parsed
  std::string entry_;                           // the top-level key being parsed
};

json parse_json(std::string_view text, const std::string& source) {
  HeaderChecker checker(source);
  json::sax_parse(text.begin(), text.end(), &checker);
  return json::parse(text.begin(), text.end());  // cannot fail: the checker saw valid JSON
}

DType parse_dtype(const std::string& name, const json& v, const std::string& source) {
  if (!v.is_string())
    fail_tensor(source, name, "dtype must be a string such as \"F32\", got ", excerpt(v));
  const auto& s = v.get_ref<const std::string&>();
  for (const auto& d : kDTypeNames)
    if (s == d.name) return d.dtype;
  for (const char* u : kOfficialUnsupported)
    if (s == u)
      fail(source, "unsupported dtype ", s, " for tensor '", clip(name),
           "' (ssm has no such tensor type; it reads ", kSupportedList, ")");
  fail_tensor(source, name, "unknown dtype ", excerpt(v), " (expected one of ", kSupportedList,
              ")");
}

// A JSON number that is a non-negative integer, or nothing.
std::optional<uint64_t> as_count(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() == 0) return 0;  // "-0"
  return std::nullopt;
}

Shape parse_shape(const std::string& name, const json& v, DType dtype, const std::string& source) {
  if (!v.is_array())
    fail_tensor(source, name, "shape must be an array of non-negative integers, got ", excerpt(v));
  if (v.size() > size_t(kMaxDims))
    fail_tensor(source, name, "shape has ", v.size(), " dims, at most ", kMaxDims,
                " are supported");
  Shape shape;
  // Strides multiply the sizes with 0 read as 1 (contiguous_strides), so that product, in
  // bytes, must fit in int64 even for an empty tensor.
  uint64_t bytes = uint64_t(dtype_size(dtype));
  for (const json& d : v) {
    auto n = as_count(d);
    if (!n)
      fail_tensor(source, name, "shape must be an array of non-negative integers, got ",
                  excerpt(v));
    if (__builtin_mul_overflow(bytes, std::max<uint64_t>(*n, 1), &bytes) ||
        bytes > uint64_t(std::numeric_limits<int64_t>::max()))
      fail_tensor(source, name, "element count of shape ", excerpt(v), " overflows int64");
    shape.push_back(int64_t(*n));
  }
  return shape;
}

void parse_offsets(Entry& e, const json& v, const std::string& source) {
  std::optional<uint64_t> begin, end;
  if (v.is_array() && v.size() == 2) {
    begin = as_count(v[0]);
    end = as_count(v[1]);
  }
  if (!begin || !end)
    fail_tensor(source, e.name, "data_offsets must be two non-negative integers [begin, end], got ",
                excerpt(v));
  if (*begin > *end)
    fail_tensor(source, e.name, "data_offsets [", *begin, ", ", *end, "] have begin after end");
  e.begin = *begin;
  e.end = *end;
}

Entry parse_entry(const std::string& name, const json& v, uint64_t buffer_size,
                  const std::string& source) {
  if (!v.is_object())
    fail_tensor(source, name, "entry is a ", v.type_name(),
                ", expected an object with keys dtype, shape and data_offsets");
  for (const auto& [key, value] : v.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail_tensor(source, name, "unexpected key '", clip(key),
                  "' (an entry has only dtype, shape and data_offsets)");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) fail_tensor(source, name, "missing key '", key, "'");

  Entry e;
  e.name = name;
  e.dtype = parse_dtype(name, v["dtype"], source);
  e.shape = parse_shape(name, v["shape"], e.dtype, source);
  parse_offsets(e, v["data_offsets"], source);
  if (e.end > buffer_size)
    fail_tensor(source, name, "data_offsets [", e.begin, ", ", e.end,
                "] reach beyond the end of the ", buffer_size, "-byte buffer");
  uint64_t need = uint64_t(e.shape.numel()) * uint64_t(dtype_size(e.dtype));
  if (e.end - e.begin != need)
    fail_tensor(source, name, "data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
                " bytes but dtype ", dtype_string(e.dtype), " and shape ", e.shape, " need ",
                need);
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& v, const std::string& source) {
  if (!v.is_object())
    fail(source, "__metadata__ must map strings to strings, got ", excerpt(v));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string())
      fail(source, "__metadata__ must map strings to strings, but '", clip(key), "' is ",
           excerpt(value));
    out[key] = value.get<std::string>();
  }
  return out;
}

// Every byte of the buffer belongs to exactly one tensor (the spec forbids holes, so a file
// cannot smuggle data past a reader, and overlaps would alias tensors).
void check_coverage(std::vector<Entry>& entries, uint64_t buffer_size, const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < pos)
      fail_tensor(source, e.name, "data_offsets [", e.begin, ", ", e.end,
                  "] overlap those of tensor '", clip(prev->name), "' [", prev->begin, ", ",
                  prev->end, "]");
    if (e.begin > pos)
      fail(source, "bytes [", pos, ", ", e.begin,
           ") of the buffer belong to no tensor (the buffer must be fully covered)");
    pos = e.end;
    prev = &e;
  }
  if (pos < buffer_size)
    fail(source, "bytes [", pos, ", ", buffer_size,
         ") of the buffer belong to no tensor (the buffer must be fully covered)");
}

// Bytes other than 0 and 1 are not valid `bool` values in C++; reading one would be undefined.
void check_bools(const Entry& e, const uint8_t* data, const std::string& source) {
  for (uint64_t i = 0; i < e.end - e.begin; ++i)
    if (data[i] > 1)
      fail_tensor(source, e.name, "BOOL element ", i, " is stored as byte ", int(data[i]),
                  ", expected 0 or 1");
}

// Validates the whole file image: header, offsets, coverage and BOOL values.
Header read_header(std::span<const uint8_t> bytes, const std::string& source) {
  uint64_t n = read_header_size(bytes, source);
  std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  json root = parse_json(text, source);
  if (!root.is_object())
    fail(source, "header is a JSON ", root.type_name(), ", expected a JSON object");

  Header h;
  h.buffer_start = 8 + n;
  uint64_t buffer_size = bytes.size() - h.buffer_start;
  for (const auto& [key, value] : root.items()) {
    if (key == kMetadataKey)
      h.metadata = parse_metadata(value, source);
    else
      h.entries.push_back(parse_entry(key, value, buffer_size, source));
  }
  check_coverage(h.entries, buffer_size, source);
  for (const Entry& e : h.entries)
    if (e.dtype == DType::b8) check_bools(e, bytes.data() + h.buffer_start + e.begin, source);
  return h;
}

Tensor copy_tensor(const Entry& e, const uint8_t* data) {
  Tensor t = Tensor::empty(e.shape, e.dtype);
  if (e.end > e.begin) std::memcpy(t.raw_data(), data, e.end - e.begin);
  return t;
}

Tensor wrap_tensor(const Entry& e, uint8_t* data, const std::shared_ptr<void>& mapping) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::wrap(data, e.end - e.begin, Device::cpu(), mapping);
  impl->shape = e.shape;
  impl->strides = contiguous_strides(e.shape);
  impl->dtype = e.dtype;
  return Tensor(std::move(impl));
}

// Closes a file descriptor on every path out of a scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// ---- writing ------------------------------------------------------------------------------------

// What serialize() and save() write: the padded header, then the tensors in buffer order.
struct Plan {
  std::string header;
  std::vector<std::pair<std::string, Tensor>> order;
};

void check_writable(const std::string& name, const Tensor& t) {
  SSM_CHECK(name != kMetadataKey, "safetensors: '", kMetadataKey,
            "' is reserved for the metadata and cannot name a tensor");
  SSM_CHECK(t.defined(), "safetensors: tensor '", name, "' is undefined");
  SSM_CHECK(dtype_string(t.dtype()) != nullptr, "safetensors: tensor '", name, "' has dtype ",
            t.dtype(), ", which safetensors cannot store (its widest complex dtype is C64); "
            "save t.view_as_real() (float64 with a trailing dim of 2) instead");
}

Plan make_plan(const std::map<std::string, Tensor>& tensors,
               const std::map<std::string, std::string>& metadata) {
  Plan plan;
  for (const auto& [name, t] : tensors) {
    check_writable(name, t);
    plan.order.emplace_back(name, t.device().is_cpu() ? t : t.cpu());  // written from host memory
  }
  // Widest elements first, as the official writer does: every tensor then starts at a multiple
  // of its element size, so loads can map it without copying.
  std::stable_sort(plan.order.begin(), plan.order.end(), [](const auto& a, const auto& b) {
    return a.second.element_size() > b.second.element_size();
  });
  std::map<std::string, std::pair<uint64_t, uint64_t>> offsets;
  uint64_t pos = 0;
  for (const auto& [name, t] : plan.order) {
    uint64_t n = uint64_t(t.numel()) * uint64_t(t.element_size());
    offsets[name] = {pos, pos + n};
    pos += n;
  }

  // The root object is assembled as text: ordered_json looks keys up linearly, which would make
  // writing n tensors O(n^2). Entries keep the official key order (dtype, shape, data_offsets).
  try {
    plan.header = "{";
    if (!metadata.empty()) plan.header += json(kMetadataKey).dump() + ":" + json(metadata).dump();
    for (const auto& [name, t] : tensors) {
      nlohmann::ordered_json entry = {{"dtype", dtype_string(t.dtype())},
                                      {"shape", t.shape().vec()},
                                      {"data_offsets", {offsets[name].first, offsets[name].second}}};
      if (plan.header.size() > 1) plan.header += ",";
      plan.header += json(name).dump() + ":" + entry.dump();
    }
    plan.header += "}";
  } catch (const json::exception& e) {
    SSM_FAIL("safetensors: a tensor name or metadata string is not valid UTF-8 (", e.what(), ")");
  }
  plan.header.append((kHeaderAlign - plan.header.size() % kHeaderAlign) % kHeaderAlign, ' ');
  return plan;
}

// Feeds the file image to `sink` piece by piece, copying one tensor at a time to contiguous CPU
// memory so saving a large checkpoint never holds a second copy of all of it.
void emit(const Plan& plan, const std::function<void(const void*, size_t)>& sink) {
  uint64_t n = plan.header.size();
  sink(&n, 8);
  sink(plan.header.data(), plan.header.size());
  for (const auto& [name, t] : plan.order) {
    Tensor c = t.detach().cpu().contiguous();
    size_t nbytes = size_t(c.numel()) * size_t(c.element_size());
    if (nbytes > 0) sink(c.raw_data(), nbytes);
  }
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail_os("write to", path);
    p += w;
    n -= size_t(w);
  }
}

void fsync_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd < 0) fail_os("open directory", dir);
  if (::fsync(fd.fd) != 0) fail_os("fsync directory", dir);
}

void write_file(const std::string& tmp, const Plan& plan) {
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.fd < 0) fail_os("create", tmp);
  emit(plan, [&](const void* p, size_t n) { write_all(fd.fd, p, n, tmp); });
  if (::fsync(fd.fd) != 0) fail_os("fsync", tmp);
  int f = fd.fd;
  fd.fd = -1;
  // close() can report a delayed write error (e.g. on NFS): the file is not safe to rename.
  if (::close(f) != 0) fail_os("close", tmp);
}

}  // namespace

// ---- public API ---------------------------------------------------------------------------------

File parse(std::span<const uint8_t> bytes, const std::string& source) {
  Header h = read_header(bytes, source);
  File file;
  file.metadata = std::move(h.metadata);
  for (const Entry& e : h.entries)
    file.tensors[e.name] = copy_tensor(e, bytes.data() + h.buffer_start + e.begin);
  return file;
}

File load(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) fail_os("open", path);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) fail_os("stat", path);
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  size_t size = size_t(st.st_size);
  check_min_size(size, path);  // also keeps mmap from being asked for an empty mapping

  // Private + writable: tensors may be modified in place without the changes reaching the file.
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.fd, 0);
  if (addr == MAP_FAILED) fail_os("mmap", path);
  std::shared_ptr<void> mapping(addr, [size](void* p) { ::munmap(p, size); });
  auto* bytes = static_cast<uint8_t*>(addr);

  Header h = read_header({bytes, size}, path);
  File file;
  file.metadata = std::move(h.metadata);
  for (const Entry& e : h.entries) {
    uint8_t* data = bytes + h.buffer_start + e.begin;
    bool aligned = reinterpret_cast<uintptr_t>(data) % uint64_t(dtype_size(e.dtype)) == 0;
    file.tensors[e.name] = aligned ? wrap_tensor(e, data, mapping) : copy_tensor(e, data);
  }
  return file;
}

std::vector<uint8_t> serialize(const std::map<std::string, Tensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  Plan plan = make_plan(tensors, metadata);
  std::vector<uint8_t> out;
  emit(plan, [&](const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

void save(const std::string& path, const std::map<std::string, Tensor>& tensors,
          const std::map<std::string, std::string>& metadata) {
  Plan plan = make_plan(tensors, metadata);  // refuses unwritable tensors before touching disk
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write_file(tmp, plan);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_os("rename of '" + tmp + "' to", path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(path);
}

}  // namespace ssm::safetensors
