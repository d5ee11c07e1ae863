// The selective scan's options: discretization rule and scan algorithm, as configs name them.
// Kept apart from the kernel header (ops/selective_scan.h) so that configs and layers can name
// the choices without the kernels' declarations.
#pragma once

#include <cstdint>
#include <string>

namespace ssm {

// The maths of each rule is in ops/selective_scan.h.
enum class Discretization { zoh, zoh_exact, bilinear, generalized_bilinear };
enum class ScanAlgorithm { sequential, parallel, log_space };

// Parsing throws ssm::Error naming the value and the allowed names.
Discretization parse_discretization(const std::string& s);
ScanAlgorithm parse_scan_algorithm(const std::string& s);
const char* discretization_name(Discretization d);
const char* scan_algorithm_name(ScanAlgorithm a);

struct SelectiveScanOptions {
  Discretization discretization = Discretization::zoh;
  double alpha = 0.5;  // generalized_bilinear only, in [0, 1]
  ScanAlgorithm algorithm = ScanAlgorithm::sequential;
  bool delta_softplus = true;
  int64_t chunk = 64;  // steps between states kept for backward (and the parallel chunk length)

  bool operator==(const SelectiveScanOptions&) const = default;
};

}  // namespace ssm
