// Packed variable-length rows against each sequence run on its own (tests/ops/varlen_test.cpp on
// the CPU, tests/cuda/varlen_test.cpp on the GPU). A layout lists each row's sequence lengths;
// `run_packed` runs a function once on the packed rows with seq_start and `run_separate` once per
// sequence on slices of the same inputs (without seq_start), concatenated back into rows. Both
// take the loss <out, gout> and return the output and the gradients of the inputs and of the
// given parameters, on the CPU in float64, so the two can be compared element by element.
#pragma once

#include <functional>
#include <vector>

#include "core/autograd.h"
#include "core/tensor.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/reduce.h"

namespace ssm::testing::varlen {

using Layout = std::vector<std::vector<int64_t>>;  // per row: the lengths of its sequences
using Fn = std::function<Tensor(const std::vector<Tensor>& in, const Tensor& seq_start)>;

inline int64_t row_length(const Layout& rows) {
  int64_t L = 0;
  for (int64_t n : rows.at(0)) L += n;
  return L;
}

// (B, L) int64 on the CPU: 1 at every sequence start (t = 0 included).
inline Tensor seq_start(const Layout& rows) {
  int64_t B = int64_t(rows.size()), L = row_length(rows);
  std::vector<int64_t> v(size_t(B * L), 0);
  for (int64_t b = 0; b < B; ++b) {
    int64_t t = 0;
    for (int64_t n : rows[size_t(b)]) {
      v[size_t(b * L + t)] = 1;
      t += n;
    }
  }
  return Tensor::from_vector(v, {B, L});
}

struct Result {
  Tensor out;                  // CPU float64
  std::vector<Tensor> grads;   // the inputs' (undefined where none), then the parameters'
};

// Leaves on `dev` in `dt` (integral inputs keep their dtype) with requires_grad where floating.
inline std::vector<Tensor> leaves(const std::vector<Tensor>& in, Device dev, DType dt) {
  std::vector<Tensor> r;
  for (const Tensor& t : in) {
    if (!t.defined()) {
      r.emplace_back();
      continue;
    }
    // A fresh copy: gradients must not accumulate across runs on a shared leaf.
    Tensor l = (is_floating(t.dtype()) ? t.to(dt) : t).to(dev).detach().clone();
    if (is_floating(t.dtype())) l.requires_grad_(true);
    r.push_back(l);
  }
  return r;
}

inline Result finish(const Tensor& out, const Tensor& gout, const std::vector<Tensor>& in,
                     const std::vector<Tensor>& params) {
  sum(mul(out, gout.to(out.dtype()).to(out.device()))).backward();
  Result r;
  r.out = out.detach().cpu().to(DType::f64);
  for (const Tensor& t : in)
    r.grads.push_back(t.defined() && t.grad().defined() ? t.grad().cpu().to(DType::f64) : Tensor());
  for (const Tensor& p : params) {
    r.grads.push_back(p.grad().defined() ? p.grad().cpu().to(DType::f64) : Tensor());
    Tensor q = p;
    q.zero_grad();
  }
  return r;
}

// `in` (CPU, float64 or integral); `sliced[i]`: input i has (B, L, ...) leading dims.
inline Result run_packed(const Fn& f, const std::vector<Tensor>& in, const Tensor& gout,
                         const Layout& rows, Device dev, DType dt,
                         const std::vector<Tensor>& params = {}) {
  for (Tensor p : params) p.zero_grad();
  std::vector<Tensor> l = leaves(in, dev, dt);
  Tensor out = f(l, seq_start(rows).to(dev));
  return finish(out, gout, l, params);
}

inline Result run_separate(const Fn& f, const std::vector<Tensor>& in,
                           const std::vector<bool>& sliced, const Tensor& gout, const Layout& rows,
                           Device dev, DType dt, const std::vector<Tensor>& params = {}) {
  for (Tensor p : params) p.zero_grad();
  std::vector<Tensor> l = leaves(in, dev, dt);
  std::vector<Tensor> out_rows;
  for (int64_t b = 0; b < int64_t(rows.size()); ++b) {
    std::vector<Tensor> pieces;
    int64_t t = 0;
    for (int64_t n : rows[size_t(b)]) {
      std::vector<Tensor> s;
      for (size_t i = 0; i < l.size(); ++i)
        s.push_back(l[i].defined() && sliced[i] ? l[i].narrow(0, b, 1).narrow(1, t, n) : l[i]);
      pieces.push_back(f(s, Tensor()));
      t += n;
    }
    out_rows.push_back(cat(pieces, 1));
  }
  return finish(cat(out_rows, 0), gout, l, params);
}

}  // namespace ssm::testing::varlen
