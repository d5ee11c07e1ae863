#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ssm {

namespace {

[[noreturn]] void fail_os(const std::string& what, const std::string& path) {
  SSM_FAIL(what, " '", path, "': ", std::strerror(errno));
}

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) fail_os("cannot open", path);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) fail_os("cannot stat", path);
  SSM_CHECK(S_ISREG(st.st_mode), "'", path, "' is not a regular file");
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_os("cannot read", path);
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.fd < 0) fail_os("cannot create", tmp);
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t w = ::write(fd.fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail_os("cannot write to", tmp);
      p += w;
      left -= size_t(w);
    }
    if (::fsync(fd.fd) != 0) fail_os("cannot fsync", tmp);
    int f = fd.fd;
    fd.fd = -1;
    if (::close(f) != 0) fail_os("cannot close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_os("cannot rename '" + tmp + "' to", path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::string dir = parent.empty() ? std::string(".") : parent.string();
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) fail_os("cannot open directory", dir);
  if (::fsync(d.fd) != 0) fail_os("cannot fsync directory", dir);
}

std::string create_folders(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path top;
  for (fs::path p = fs::absolute(dir).lexically_normal(); !p.empty() && !fs::exists(p); p = p.parent_path()) {
    top = p;
    if (p == p.parent_path()) break;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  SSM_CHECK(!ec, "cannot create the folder '", dir, "': ", ec.message());
  return top.string();
}

}  // namespace ssm
