#include "ops/scan_options.h"

#include "core/error.h"

namespace ssm {

Discretization parse_discretization(const std::string& s) {
  if (s == "zoh") return Discretization::zoh;
  if (s == "zoh_exact") return Discretization::zoh_exact;
  if (s == "bilinear") return Discretization::bilinear;
  if (s == "generalized_bilinear") return Discretization::generalized_bilinear;
  SSM_FAIL("discretization '", s, "' is not one of zoh, zoh_exact, bilinear, generalized_bilinear");
}

ScanAlgorithm parse_scan_algorithm(const std::string& s) {
  if (s == "sequential") return ScanAlgorithm::sequential;
  if (s == "parallel") return ScanAlgorithm::parallel;
  if (s == "log_space") return ScanAlgorithm::log_space;
  SSM_FAIL("scan algorithm '", s, "' is not one of sequential, parallel, log_space");
}

const char* discretization_name(Discretization d) {
  switch (d) {
    case Discretization::zoh: return "zoh";
    case Discretization::zoh_exact: return "zoh_exact";
    case Discretization::bilinear: return "bilinear";
    case Discretization::generalized_bilinear: return "generalized_bilinear";
  }
  return "?";
}

const char* scan_algorithm_name(ScanAlgorithm a) {
  switch (a) {
    case ScanAlgorithm::sequential: return "sequential";
    case ScanAlgorithm::parallel: return "parallel";
    case ScanAlgorithm::log_space: return "log_space";
  }
  return "?";
}

}  // namespace ssm
