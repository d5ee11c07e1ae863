// PyTorch-style printing: tensor([[...], ...], dtype=...). Large tensors are summarised with
// "..." after the first and before the last three entries of each dim.
#include <cmath>
#include <complex>
#include <cstdio>
#include <sstream>

#include "core/autograd.h"
#include "core/tensor.h"

namespace ssm {

namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdge = 3;

struct Formatter {
  bool integral = false;
  bool scientific = false;
  int width = 0;

  std::string fmt(double v) const {
    char buf[64];
    if (integral)
      std::snprintf(buf, sizeof buf, "%lld", (long long)v);
    else if (std::isnan(v))
      std::snprintf(buf, sizeof buf, "nan");
    else if (std::isinf(v))
      std::snprintf(buf, sizeof buf, v > 0 ? "inf" : "-inf");
    else if (scientific)
      std::snprintf(buf, sizeof buf, "%.4e", v);
    else
      std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
  }
};

void print_rec(std::ostringstream& os, const Tensor& t, const Formatter& f, int depth,
               int indent, bool summarise) {
  if (t.dim() == 0) {
    std::string s = f.fmt(t.item<double>());
    os << std::string(size_t(std::max(0, f.width - int(s.size()))), ' ') << s;
    return;
  }
  int64_t n = t.shape()[0];
  os << '[';
  bool cut = summarise && n > 2 * kEdge;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdge) {
      os << (t.dim() == 1 ? "..., " : "...,\n" + std::string(size_t(indent + 1), ' '));
      i = n - kEdge;
    }
    print_rec(os, t.select(0, i), f, depth + 1, indent + 1, summarise);
    if (i + 1 < n) {
      if (t.dim() == 1)
        os << ", ";
      else
        os << ',' << std::string(size_t(t.dim() - 1), '\n') << std::string(size_t(indent + 1), ' ');
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  NoGradGuard ng;
  Tensor c = cpu();
  std::ostringstream os;
  os << "tensor(";
  if (is_complex(dtype())) {
    // Complex values print as their real pairs (see core/dtype.h for the convention).
    os << c.view_as_real().str();
  } else {
    Formatter f;
    f.integral = !is_floating(dtype());
    std::vector<double> v = c.to_vector<double>();
    double mx = 0, mn = INFINITY;
    for (double x : v)
      if (std::isfinite(x) && x != 0) {
        mx = std::max(mx, std::fabs(x));
        mn = std::min(mn, std::fabs(x));
      }
    f.scientific = !f.integral && (mx >= 1e8 || (mn < 1e-4 && mn > 0) || (mx > 0 && mx / mn > 1e7));
    for (double x : v) f.width = std::max(f.width, int(f.fmt(x).size()));
    print_rec(os, c, f, 0, 7, numel() > kSummariseAbove);
  }
  if (dtype() != DType::f32) os << ", dtype=" << dtype();
  if (!device().is_cpu()) os << ", device='" << device() << "'";
  if (grad_fn())
    os << ", grad_fn=<" << grad_fn()->name() << ">";
  else if (requires_grad())
    os << ", requires_grad=True";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace ssm
