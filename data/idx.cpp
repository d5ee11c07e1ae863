#include "data/idx.h"

#include "core/error.h"
#include "core/file.h"

namespace ssm::data {

IdxArray parse_idx(std::span<const uint8_t> b, const std::string& source) {
  SSM_CHECK(b.size() >= 4, source, ": not an IDX file: ", b.size(), " bytes, shorter than the "
            "4-byte header");
  SSM_CHECK(b[0] == 0 && b[1] == 0, source, ": not an IDX file: it starts with bytes ",
            int(b[0]), " ", int(b[1]), ", expected 0 0",
            b[0] == 0x1f && b[1] == 0x8b ? " (it is gzip-compressed: gunzip it first)" : "");
  SSM_CHECK(b[2] == 0x08, source, ": IDX element type ", int(b[2]),
            " is not supported; expected 8 (0x08, unsigned bytes)");
  const size_t n = b[3];
  SSM_CHECK(n >= 1, source, ": IDX header declares 0 dimensions");
  SSM_CHECK(b.size() >= 4 + 4 * n, source, ": truncated IDX header: ", n, " dimensions need ",
            4 + 4 * n, " bytes, the file has ", b.size());
  IdxArray a;
  uint64_t count = 1;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = b.data() + 4 + 4 * i;
    uint64_t d = uint64_t(p[0]) << 24 | uint64_t(p[1]) << 16 | uint64_t(p[2]) << 8 | p[3];
    a.dims.push_back(int64_t(d));
    count *= d;
    SSM_CHECK(count <= (uint64_t(1) << 40), source, ": IDX dimensions are too large");
  }
  const size_t header = 4 + 4 * n;
  SSM_CHECK(b.size() - header == count, source, ": IDX header declares ", count,
            " elements, the file holds ", b.size() - header,
            b.size() - header < count ? " (truncated)" : " (trailing bytes)");
  a.data.assign(b.begin() + std::ptrdiff_t(header), b.end());
  return a;
}

IdxArray read_idx(const std::string& path) {
  std::string bytes = read_file(path);
  return parse_idx({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, path);
}

std::string idx_bytes(const IdxArray& a) {
  SSM_CHECK(!a.dims.empty() && a.dims.size() < 256, "idx: 1 to 255 dimensions, got ", a.dims.size());
  std::string out = {0, 0, 0x08, char(a.dims.size())};
  uint64_t count = 1;
  for (int64_t d : a.dims) {
    SSM_CHECK(d >= 0 && d <= int64_t(UINT32_MAX), "idx: dimension ", d, " out of range");
    count *= uint64_t(d);
    for (int s = 24; s >= 0; s -= 8) out += char((uint64_t(d) >> s) & 0xff);
  }
  SSM_CHECK(count == a.data.size(), "idx: dimensions give ", count, " elements, data has ",
            a.data.size());
  out.append(reinterpret_cast<const char*>(a.data.data()), a.data.size());
  return out;
}

void write_idx(const std::string& path, const IdxArray& a) { write_file_atomic(path, idx_bytes(a)); }

ImageSet read_image_set(const std::string& images_path, const std::string& labels_path,
                        int64_t num_classes) {
  IdxArray images = read_idx(images_path), labels = read_idx(labels_path);
  SSM_CHECK(images.dims.size() == 3, images_path, ": expected images (count, rows, cols), got ",
            images.dims.size(), " dimensions");
  SSM_CHECK(labels.dims.size() == 1, labels_path, ": expected labels (count), got ",
            labels.dims.size(), " dimensions");
  SSM_CHECK(images.dims[0] == labels.dims[0], images_path, " holds ", images.dims[0],
            " images but ", labels_path, " holds ", labels.dims[0], " labels");
  for (size_t i = 0; i < labels.data.size(); ++i)
    SSM_CHECK(labels.data[i] < num_classes, labels_path, ": label ", int(labels.data[i]),
              " of example ", i, " is not below the ", num_classes, " classes");
  ImageSet s;
  s.rows = images.dims[1];
  s.cols = images.dims[2];
  s.pixels = std::move(images.data);
  s.labels = std::move(labels.data);
  return s;
}

}  // namespace ssm::data
