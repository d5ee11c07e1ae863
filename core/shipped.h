// Where the files shipped with ssm lie: the data sets (data/) and the configs (configs/). They
// are found from the running binary, so that ssm works from any folder:
//   PREFIX/bin/ssm                -> PREFIX/share/ssm/{data,configs}  (cmake --install)
//   SOURCE/build/ssm              -> SOURCE/{data,configs}            (a build inside the tree)
//   a build anywhere else         -> the source tree it was configured from
#pragma once

#include <string>

namespace ssm {

// The running executable's path (symbolic links resolved).
std::string executable_path();

// A folder that may hold data/ and configs/, with what it is ("installed beside
// /usr/local/bin/ssm").
struct ShippedPlace {
  std::string root;
  std::string what;
};

// The first place, in the order above, holding both data/ and configs/; an ssm::Error naming
// every place looked at when none does.
ShippedPlace shipped_root();

// shipped_root().root/`folder`, e.g. shipped_dir("configs").
std::string shipped_dir(const std::string& folder);

}  // namespace ssm
