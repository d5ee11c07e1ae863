// Jane Austen's six novels, from Debian's r-cran-janeaustenr (fetched by data/fetch.h): its
// lazy-load database data/Rdata.rdb holds each novel as a character vector, one element per
// line of the Project Gutenberg text ("" for a blank line). The novels are found by their object
// names in the index Rdata.rdx, so a re-ordered or re-compressed database still loads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "data/rdata.h"

namespace ssm::tasks {

struct Novel {
  std::string key;    // the package's object name, e.g. "sensesensibility"
  std::string title;  // e.g. "Sense and Sensibility"
  std::vector<std::string> lines;
};

// Sense and Sensibility, Pride and Prejudice, Mansfield Park, Emma, Northanger Abbey, Persuasion
// (publication order). ssm::Error naming the novel when one is missing, is not a character
// vector, is empty or has an NA line; the R reader's errors for malformed files.
std::vector<Novel> load_austen(const std::string& rdb_path, const std::string& rdx_path);
std::vector<Novel> austen_from_objects(const std::map<std::string, data::rdata::Value>& objects,
                                       const std::string& source);

// The text the byte LM trains on (`ssm data build` writes it to austen.txt): the novels in the
// order above, each line followed by '\n', and one blank line between consecutive novels.
// UTF-8, as in the package (Mansfield Park has the one non-ASCII line).
std::string austen_text(const std::vector<Novel>& novels);

}  // namespace ssm::tasks
