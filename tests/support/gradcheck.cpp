#include "support/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/rng.h"

namespace ssm::testing {

namespace {

double dot(const std::vector<Tensor>& ys, const std::vector<Tensor>& vs) {
  double s = 0;
  for (size_t k = 0; k < ys.size(); ++k) {
    if (!vs[k].defined()) continue;
    auto y = ys[k].to_vector<double>();
    auto v = vs[k].to_vector<double>();
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * v[i];
  }
  return s;
}

// Element offsets (in storage elements) of every logical element, in row-major order.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs;
  offs.reserve(size_t(t.numel()));
  std::vector<int64_t> idx(size_t(t.dim()), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t off = t.offset();
    for (int d = 0; d < t.dim(); ++d) off += idx[size_t(d)] * t.strides()[d];
    offs.push_back(off);
    for (int d = t.dim() - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < t.shape()[d]) break;
      idx[size_t(d)] = 0;
    }
  }
  return offs;
}

}  // namespace

std::string gradcheck(const Fn& f, const std::vector<Tensor>& inputs_in,
                      const std::vector<bool>& check, const GradcheckOptions& opt) {
  std::ostringstream err;
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < inputs_in.size(); ++i) {
    Tensor x = inputs_in[i].defined() ? inputs_in[i].detach() : Tensor();
    if (check[i]) {
      if (x.dtype() != DType::f64) return "gradcheck: input " + std::to_string(i) + " is not float64";
      for (int d = 0; d < x.dim(); ++d)
        if (x.strides()[d] == 0 && x.shape()[d] > 1)
          return "gradcheck: input " + std::to_string(i) + " has overlapping (stride 0) elements";
      x.requires_grad_(true);
    }
    inputs.push_back(x);
  }

  // Analytic gradients.
  std::vector<Tensor> ys = f(inputs);
  Generator gen(1234);
  std::vector<Tensor> vs, roots, grads;
  for (const Tensor& y : ys) {
    if (!y.defined() || !is_floating(y.dtype()) || !y.requires_grad()) {
      vs.emplace_back();
      continue;
    }
    Tensor v = Tensor::randn(y.shape(), DType::f64, &gen);
    vs.push_back(v);
    roots.push_back(y);
    grads.push_back(v);
  }
  if (roots.empty()) return "gradcheck: no output requires grad (did the op record a Node?)";
  run_backward(roots, grads, false);

  NoGradGuard ng;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!check[i]) continue;
    Tensor& x = inputs[i];
    auto analytic = x.grad().defined() ? x.grad().to_vector<double>()
                                       : std::vector<double>(size_t(x.numel()), 0.0);
    double* base = static_cast<double*>(x.storage()->data);
    auto offs = element_offsets(x);
    for (size_t j = 0; j < offs.size(); ++j) {
      double orig = base[offs[j]];
      base[offs[j]] = orig + opt.eps;
      double fp = dot(f(inputs), vs);
      base[offs[j]] = orig - opt.eps;
      double fm = dot(f(inputs), vs);
      base[offs[j]] = orig;
      double numeric = (fp - fm) / (2 * opt.eps);
      double a = analytic[j];
      if (!(std::fabs(a - numeric) <= opt.atol + opt.rtol * std::fabs(numeric))) {
        err << "input " << i << " " << x.shape() << " element " << j << ": analytic " << a
            << ", numeric " << numeric << " (|diff| " << std::fabs(a - numeric) << ", atol "
            << opt.atol << ", rtol " << opt.rtol << ")";
        return err.str();
      }
    }
  }
  return {};
}

}  // namespace ssm::testing
