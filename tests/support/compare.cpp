#include "support/compare.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"

namespace ssm::testing {

std::string compare(const Tensor& actual, const Tensor& expected, Tol tol) {
  std::ostringstream os;
  if (!actual.defined() || !expected.defined()) {
    if (actual.defined() != expected.defined())
      os << "one side is undefined: actual " << describe(actual) << ", expected "
         << describe(expected);
    return os.str();
  }
  if (actual.shape() != expected.shape()) {
    os << "shape mismatch: actual " << actual.shape() << ", expected " << expected.shape();
    return os.str();
  }
  NoGradGuard ng;
  auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double worst = 0, num = 0, den = 0;
  int64_t worst_i = -1, bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(a[i] - e[i]);
    bool same_nonfinite = (std::isnan(a[i]) && std::isnan(e[i])) ||
                          (std::isinf(a[i]) && a[i] == e[i]);
    if (same_nonfinite) continue;
    double excess = d - (tol.atol + tol.rtol * std::fabs(e[i]));
    if (!(excess <= 0)) {  // also catches NaN
      ++bad;
      if (worst_i < 0 || !(excess <= worst)) {
        worst = excess;
        worst_i = int64_t(i);
      }
    }
    if (std::isfinite(d)) {
      num += d * d;
      den += e[i] * e[i];
    }
  }
  double rel_rms = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (bad > 0) {
    size_t w = size_t(worst_i);
    os << bad << " of " << a.size() << " elements out of tolerance (atol " << tol.atol
       << ", rtol " << tol.rtol << "); worst at flat index " << worst_i << ": actual " << a[w]
       << ", expected " << e[w] << ", |diff| " << std::fabs(a[w] - e[w]);
  }
  if (tol.rms > 0 && !(rel_rms <= tol.rms)) {
    if (bad > 0) os << "; ";
    os << "relative RMS error " << rel_rms << " above " << tol.rms;
  }
  return os.str();
}

}  // namespace ssm::testing
