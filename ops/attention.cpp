// attention: the op (checks, masks, dropout counters, one autograd record, backward), the math
// form of its kernels (batched products and the row softmax from other ops), and the op's
// test-table entry.
#include "ops/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/dispatch.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/op_info.h"
#include "ops/reduce.h"

namespace ssm {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// (Lq, Lk): 0 where key j <= query i, -inf after; made where S is (no host buffer of Lq x Lk).
Tensor causal_bias(int64_t Lq, int64_t Lk, const Tensor& like) {
  Tensor i = Tensor::arange(Lq, DType::i64, like.device()).unsqueeze(1);
  Tensor j = Tensor::arange(Lk, DType::i64, like.device()).unsqueeze(0);
  return where(gt(j, i), scalar_like(-kInf, like), scalar_like(0.0, like));
}

Tensor scores(const AttentionArgs& a) {
  Tensor S = mul(bmm(a.q, a.k.transpose(1, 2)), a.scale);  // (N, Lq, Lk)
  if (a.bias.defined()) S = add(S, a.bias);
  if (a.causal) S = add(S, causal_bias(a.q.size(1), a.k.size(1), S));
  return S;
}

// P = exp(S - lse); rows with no key (lse = -inf) give 0.
Tensor probs(const Tensor& S, const Tensor& lse) {
  Tensor l = lse.unsqueeze(2);
  Tensor safe = where(eq(l, scalar_like(-kInf, l)), scalar_like(0.0, l), l);
  return exp(sub(S, safe));
}

Tensor drop(const AttentionArgs& a, const Tensor& x) {
  if (a.p == 0) return x;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels<DropoutKernels>("attention", x).apply_mask(x.contiguous(), y, a.p, 1.0 / (1.0 - a.p), a.seed,
                                                     a.base);
  return y;
}

}  // namespace

void attention_math_forward(const AttentionArgs& a, const Tensor& y, const Tensor& lse) {
  NoGradGuard ng;
  Tensor S = scores(a);
  Tensor m = max(S, {2}, true);
  Tensor ninf = scalar_like(-kInf, m);
  Tensor m_safe = where(eq(m, ninf), scalar_like(0.0, m), m);
  Tensor l = sum(exp(sub(S, m_safe)), {2}, true);  // 0 for a row with no key
  Tensor row_lse = where(eq(l, scalar_like(0.0, l)), ninf, add(m_safe, log(l)));
  Tensor(lse).copy_(row_lse.squeeze(2));
  Tensor(y).copy_(bmm(drop(a, probs(S, lse)), a.v));
}

void attention_math_backward(const AttentionArgs& a, const Tensor& y, const Tensor& lse,
                             const Tensor& dy, const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  NoGradGuard ng;
  Tensor P = probs(scores(a), lse);
  Tensor(dv).copy_(bmm(drop(a, P).transpose(1, 2), dy));
  Tensor dP = drop(a, bmm(dy, a.v.transpose(1, 2)));  // keep / (1 - p) applied to dP~
  Tensor D = sum(mul(dy, y), {2}, true);              // (N, Lq, 1)
  Tensor dS = mul(P, sub(dP, D));
  Tensor(dq).copy_(mul(bmm(dS, a.k), a.scale));
  Tensor(dk).copy_(mul(bmm(dS.transpose(1, 2), a.q), a.scale));
}

namespace {

const AttentionKernels kCpuKernels = {wide_float_dtypes, attention_math_forward,
                                      attention_math_backward};
SSM_REGISTER_KERNELS(AttentionKernels, cpu, kCpuKernels);

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const char* op = "attention";
  check_defined(q, op, "q");
  check_defined(k, op, "k");
  check_defined(v, op, "v");
  check_same_device(q, k, op);
  check_same_device(q, v, op);
  SSM_CHECK(is_floating(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype(), op,
            ": q, k and v must be of one floating dtype, got ", describe(q), ", ", describe(k),
            " and ", describe(v));
  SSM_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(), op,
            ": q, k and v must have the same number of dims (at least 2: length, features), got ",
            describe(q), ", ", describe(k), " and ", describe(v));
  const int64_t d = q.dim();
  int64_t N = 1;
  for (int64_t i = 0; i < d - 2; ++i) {
    SSM_CHECK(k.size(i) == q.size(i) && v.size(i) == q.size(i), op,
              ": q, k and v must share their leading (batch, head) dims, got ", describe(q), ", ",
              describe(k), " and ", describe(v));
    N *= q.size(i);
  }
  const int64_t Lq = q.size(d - 2), E = q.size(d - 1), Lk = k.size(d - 2), Ev = v.size(d - 1);
  SSM_CHECK(k.size(d - 1) == E, op, ": k's features must match q's (", E, "), got ", describe(k));
  SSM_CHECK(v.size(d - 2) == Lk, op, ": v must have k's length (", Lk, "), got ", describe(v));
  SSM_CHECK(o.dropout >= 0 && o.dropout < 1, op, ": dropout must be in [0, 1), got ", o.dropout);
  const DType cdt = q.dtype() == DType::f64 ? DType::f64 : DType::f32;
  const AttentionKernels* kt = find_kernels<AttentionKernels>(q.device());
  SSM_CHECK(kt, op, ": no ", backend_name(q.device().type), " kernel for ", describe(q));

  AttentionArgs a;
  {
    NoGradGuard ng;
    a.q = q.detach().to(cdt).contiguous().view({N, Lq, E});
    a.k = k.detach().to(cdt).contiguous().view({N, Lk, E});
    a.v = v.detach().to(cdt).contiguous().view({N, Lk, Ev});
    if (o.mask.defined()) {
      const Tensor& m = o.mask;
      check_same_device(q, m, op);
      SSM_CHECK(!m.requires_grad(), op, ": the mask takes no gradient here; pass mask.detach()");
      SSM_CHECK(m.dtype() == DType::b8 || is_floating(m.dtype()), op,
                ": the mask must be bool (true = may attend) or floating (added to the scores), got ",
                describe(m));
      Shape full = q.shape();
      full[int(d - 1)] = Lk;  // (..., Lq, Lk)
      SSM_CHECK(m.dim() <= d && broadcast_shapes(m.shape(), full, op) == full, op, ": the mask ",
                describe(m), " does not broadcast to (..., Lq, Lk) = ", full);
      Tensor b = m.dtype() == DType::b8
                     ? where(m, scalar_like(0.0, a.q), scalar_like(-kInf, a.q))
                     : m.to(cdt);
      a.bias = b.expand(full).contiguous().view({N, Lq, Lk});
    }
  }
  a.causal = o.causal;
  a.scale = o.scale ? *o.scale : 1.0 / std::sqrt(double(E));
  a.p = o.training ? o.dropout : 0.0;
  if (a.p > 0) {
    Generator& g = o.gen ? *o.gen : default_generator();
    a.seed = g.seed();
    a.base = g.reserve(uint64_t((N * Lq * Lk + 3) / 4));
  }
  Tensor y = Tensor::empty({N, Lq, Ev}, cdt, q.device());
  Tensor lse = Tensor::empty({N, Lq}, cdt, q.device());
  if (y.numel() > 0 || lse.numel() > 0) kt->forward(a, y, lse);
  if (needs_grad({q, k, v})) {
    // The inputs may share storage with q, k, v and the mask: saved, so that an in-place change
    // before backward is an error rather than a wrong gradient.
    Saved sy(y), sl(lse), sq(a.q), sk(a.k), sv(a.v), sb(a.bias);
    AttentionArgs meta = a;
    meta.q = meta.k = meta.v = meta.bias = Tensor();
    const Shape qs = q.shape(), ks = k.shape(), vs = v.shape();
    const DType dt = q.dtype();
    record(OpId::attention, {q, k, v}, y, [meta, sy, sl, sq, sk, sv, sb, qs, ks, vs, dt, kt](Grads& g) {
      NoGradGuard ng;
      const Tensor &y = sy.get(), &lse = sl.get();
      AttentionArgs a = meta;
      a.q = sq.get();
      a.k = sk.get();
      a.v = sv.get();
      if (sb.defined()) a.bias = sb.get();
      Tensor dq = Tensor::zeros(a.q.shape(), a.q.dtype(), a.q.device());
      Tensor dk = Tensor::zeros(a.k.shape(), a.k.dtype(), a.k.device());
      Tensor dv = Tensor::zeros(a.v.shape(), a.v.dtype(), a.v.device());
      if (a.q.numel() > 0 && a.k.numel() > 0)
        kt->backward(a, y, lse, g.out[0].to(y.dtype()).contiguous(), dq, dk, dv);
      if (g.needs(0)) g.in[0] = dq.view(qs).to(dt);
      if (g.needs(1)) g.in[1] = dk.view(ks).to(dt);
      if (g.needs(2)) g.in[2] = dv.view(vs).to(dt);
    });
  }
  Shape ys = q.shape();
  ys[ys.size() - 1] = Ev;
  Tensor out = y.view(ys);
  return out.dtype() == q.dtype() ? out : out.to(q.dtype());
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/attention.py, the definition of
// scaled_dot_product_attention written out) ---------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// A fixed additive mask (Lq, Lk): -0.5 (i + 2j mod 3), the same in the fixture.
Tensor pattern_mask(int64_t Lq, int64_t Lk, const Tensor& like) {
  std::vector<double> m(size_t(Lq * Lk));
  for (int64_t i = 0; i < Lq; ++i)
    for (int64_t j = 0; j < Lk; ++j) m[size_t(i * Lk + j)] = -0.5 * double((i + 2 * j) % 3);
  return Tensor::from_vector(m, {Lq, Lk}).to(like.dtype()).to(like.device());
}

Tensors run_attention(const Tensors& in, const json& args) {
  AttentionOptions o;
  o.causal = args.value("causal", false);
  if (args.contains("scale")) o.scale = args.at("scale").get<double>();
  if (in.size() > 3) o.mask = in[3];
  if (args.value("pattern_mask", false))
    o.mask = pattern_mask(in[0].size(-2), in[1].size(-2), in[0]);
  return {attention(in[0], in[1], in[2], o)};
}

Tensor bool_mask(const Shape& s, uint64_t seed) {  // every row keeps key 0
  Generator g(seed);
  Tensor r = Tensor::rand(s, DType::f64, &g);
  std::vector<double> v = r.to_vector<double>();
  const int64_t Lk = s.back();
  for (size_t i = 0; i < v.size(); i += size_t(Lk)) v[i] = 1.0;
  return gt(Tensor::from_vector(v, s), scalar_like(0.3, r));
}

SSM_OP_INFO({.name = "attention",
             .nodes = {OpId::attention},
             .run = run_attention,
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"(B, H) = (2, 3), Lq 5, Lk 6, E 4, Ev 3",
                    {randn(g, {2, 3, 5, 4}), randn(g, {2, 3, 6, 4}), randn(g, {2, 3, 6, 3})}},
                   {"causal, L 5", {randn(g, {2, 5, 4}), randn(g, {2, 5, 4}), randn(g, {2, 5, 4})},
                    {{"causal", true}}},
                   {"bool mask broadcast over heads",
                    {randn(g, {2, 2, 4, 3}), randn(g, {2, 2, 5, 3}), randn(g, {2, 2, 5, 3}),
                     bool_mask({2, 1, 4, 5}, 7)}},
                   {"float mask, scale 0.7",
                    {randn(g, {3, 4, 2}), randn(g, {3, 4, 2}), randn(g, {3, 4, 5})},
                    {{"pattern_mask", true}, {"scale", 0.7}}},
                   {"one query, many keys (decoding)",
                    {randn(g, {2, 1, 4}), randn(g, {2, 7, 4}), randn(g, {2, 7, 4})}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
