#include "tasks/byte_lm/austen.h"

#include "core/error.h"

namespace ssm::tasks {

namespace {

struct Title {
  const char* key;
  const char* title;
};
constexpr Title kNovels[] = {
    {"sensesensibility", "Sense and Sensibility"}, {"prideprejudice", "Pride and Prejudice"},
    {"mansfieldpark", "Mansfield Park"},           {"emma", "Emma"},
    {"northangerabbey", "Northanger Abbey"},       {"persuasion", "Persuasion"},
};

}  // namespace

std::vector<Novel> austen_from_objects(const std::map<std::string, data::rdata::Value>& objects,
                                       const std::string& source) {
  std::vector<Novel> novels;
  for (const Title& t : kNovels) {
    auto it = objects.find(t.key);
    SSM_CHECK(it != objects.end(), source, ": no object '", t.key, "' (", t.title,
              ") in the janeaustenr database");
    const data::rdata::Value& v = it->second;
    SSM_CHECK(v.type == data::rdata::Value::Type::string, source, ": '", t.key, "' (", t.title,
              ") is a ", data::rdata::type_name(v.type), ", expected a character vector");
    SSM_CHECK(!v.strings.empty(), source, ": '", t.key, "' (", t.title, ") has no lines");
    Novel n{t.key, t.title, {}};
    n.lines.reserve(v.strings.size());
    for (size_t i = 0; i < v.strings.size(); ++i) {
      SSM_CHECK(v.strings[i].has_value(), source, ": '", t.key, "' (", t.title, ") line ", i + 1,
                " is NA");
      n.lines.push_back(*v.strings[i]);
    }
    novels.push_back(std::move(n));
  }
  return novels;
}

std::vector<Novel> load_austen(const std::string& rdb_path, const std::string& rdx_path) {
  return austen_from_objects(data::rdata::read_lazyload_db(rdb_path, rdx_path), rdb_path);
}

std::string austen_text(const std::vector<Novel>& novels) {
  std::string text;
  for (size_t i = 0; i < novels.size(); ++i) {
    if (i > 0) text += '\n';
    for (const std::string& line : novels[i].lines) {
      text += line;
      text += '\n';
    }
  }
  return text;
}

}  // namespace ssm::tasks
