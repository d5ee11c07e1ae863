#include "ops/op_info.h"

namespace ssm::testing {

std::vector<OpInfo>& op_infos() {
  static std::vector<OpInfo> infos;
  return infos;
}

Tol default_tol(DType dt) {
  switch (dt) {
    case DType::f64: return {1e-10, 1e-7};
    case DType::f32: return {1e-5, 1e-5};
    case DType::bf16: return {1e-2, 1.6e-2, 8e-3};  // 8 mantissa bits: 2^-8 per rounding
    case DType::f16: return {1e-3, 2e-3, 1e-3};     // 11 mantissa bits
    default: return {0, 0};                         // integers and bools compare exactly
  }
}

const OpInfo* find_op_info(const std::string& name) {
  for (const OpInfo& info : op_infos())
    if (info.name == name) return &info;
  return nullptr;
}

Tensor randn(Generator& g, const Shape& shape) { return Tensor::randn(shape, DType::f64, &g); }

Tensor uniform(Generator& g, const Shape& shape, double lo, double hi) {
  return Tensor::uniform(shape, lo, hi, DType::f64, &g);
}

Tensor away_from_zero(Generator& g, const Shape& shape, double gap) {
  auto u = Tensor::uniform(shape, gap, 2.0, DType::f64, &g).to_vector<double>();
  auto s = Tensor::rand(shape, DType::f64, &g).to_vector<double>();
  for (size_t i = 0; i < u.size(); ++i)
    if (s[i] < 0.5) u[i] = -u[i];
  return Tensor::from_vector(u, shape);
}

Tensor noncontig(const Tensor& t) {
  if (t.dim() < 2) {
    // Every other element of a tensor twice as long.
    Shape s = t.shape();
    int64_t n = t.dim() == 0 ? 1 : s[0];
    Tensor big = Tensor::zeros(Shape{2 * n}, t.dtype());
    Tensor v = big.slice(0, 0, 2 * n, 2);
    v.copy_(t.reshape(Shape{n}));
    return t.dim() == 0 ? v.view(Shape{}) : v;
  }
  Tensor tt = t.transpose(-1, -2).contiguous();
  return tt.transpose(-1, -2);
}

}  // namespace ssm::testing
