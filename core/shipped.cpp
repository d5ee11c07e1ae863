#include "core/shipped.h"

#include <filesystem>
#include <vector>

#include "core/error.h"

// Set by CMakeLists.txt: the source tree, and the data folder relative to the binary's folder
// once installed (GNUInstallDirs: "../share/ssm").
#ifndef SSM_SHIPPED_SOURCE_DIR
#error "SSM_SHIPPED_SOURCE_DIR is defined by CMakeLists.txt"
#endif
#ifndef SSM_SHIPPED_FROM_BIN
#error "SSM_SHIPPED_FROM_BIN is defined by CMakeLists.txt"
#endif

namespace ssm {

namespace fs = std::filesystem;

std::string executable_path() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  SSM_CHECK(!ec, "cannot find the running ssm binary (/proc/self/exe): ", ec.message());
  return p.string();
}

namespace {

// The places tried for the executable `exe`, in order.
std::vector<ShippedPlace> shipped_places(const std::string& exe) {
  fs::path bin = fs::path(exe).parent_path();
  return {
      {(bin / SSM_SHIPPED_FROM_BIN).lexically_normal().string(), "installed beside " + exe},
      {bin.parent_path().string(), "the source tree above " + exe},
      {SSM_SHIPPED_SOURCE_DIR, "the source tree " + exe + " was built from"},
  };
}

}  // namespace

ShippedPlace shipped_root() {
  std::string exe = executable_path();
  std::string looked;
  for (const ShippedPlace& p : shipped_places(exe)) {
    if (fs::is_directory(fs::path(p.root) / "data") && fs::is_directory(fs::path(p.root) / "configs"))
      return p;
    looked += "\n  " + p.root + " (" + p.what + ")";
  }
  SSM_FAIL("cannot find the data sets and configs shipped with ssm: no data/ and configs/ in", looked,
           "\nset SSM_DATA or pass --data-dir for the data sets, and give configs by their path");
}

std::string shipped_dir(const std::string& folder) { return (fs::path(shipped_root().root) / folder).string(); }

}  // namespace ssm
