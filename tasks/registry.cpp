// The task registry: one line per data set a config can name, one per data builder.
#include "tasks/registry.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/shipped.h"
#include "core/suggest.h"
#include "tasks/byte_lm/task.h"
#include "tasks/piglatin/task.h"
#include "tasks/seq_image/task.h"

namespace ssm::tasks {

const std::vector<TaskInfo>& task_infos() {
  static const std::vector<TaskInfo> all = {
      piglatin_task_info("piglatin_small", kSmallTsv,
                         "English -> Pig Latin, 3,198 words of Sense and Sensibility"),
      piglatin_task_info("piglatin_large", kLargeTsv,
                         "English -> Pig Latin, 22,402 words: the small set plus frequent English words"),
      austen_char_task_info(),
      smnist_task_info(),
      psmnist_task_info(),
      sfmnist_task_info(),
  };
  return all;
}

const std::vector<DataBuilder>& data_builders() {
  static const std::vector<DataBuilder> all = {
      austen_data_builder(),
      piglatin_data_builder(),
      mnist_data_builder(),
      fashion_mnist_data_builder(),
  };
  return all;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const TaskInfo& t : task_infos()) names.push_back(t.name);
  return names;
}

const TaskInfo& task_info(const std::string& name) {
  for (const TaskInfo& t : task_infos())
    if (t.name == name) return t;
  std::string names;
  for (const TaskInfo& t : task_infos()) names += (names.empty() ? "" : ", ") + t.name;
  SSM_FAIL("'", name, "' is not a data set of this build", did_you_mean(name, task_names()),
           " (data sets: ", names, ")");
}

DataDir data_dir() {
  const char* env = std::getenv("SSM_DATA");
  if (env && *env) return {std::filesystem::absolute(env).lexically_normal().string(), "set by SSM_DATA"};
  ShippedPlace shipped = shipped_root();
  return {(std::filesystem::path(shipped.root) / "data").string(), "shipped with ssm: " + shipped.what, true};
}

std::string data_file_in(const json& options, const std::string& name) {
  std::string path = options.contains("path") ? options.at("path").get<std::string>() : "";
  if (!path.empty() && std::filesystem::is_regular_file(path)) return path;
  std::filesystem::path dir = path.empty() ? data_dir().path : path;
  return (dir / name).string();
}

}  // namespace ssm::tasks
