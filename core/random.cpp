// Random tensor factories on the Philox generator (see core/rng.h for the counter layout).
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace ssm {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

namespace {

// Fills n doubles: element i from word i % 4 (f32 precision) or from words 2(i % 2), 2(i % 2) + 1
// (f64 precision) of the block at counter base + i / per_block.
template <class F>
Tensor fill_random(const Shape& shape, DType dtype, Generator* gen, bool wide, const F& value) {
  SSM_CHECK(is_floating(dtype) || is_index(dtype), "random: dtype ", dtype,
            " is not supported (expected a floating or integer dtype)");
  Generator& g = gen ? *gen : default_generator();
  int64_t n = shape.numel();
  int per_block = wide ? 2 : 4;
  uint64_t base = g.reserve(uint64_t((n + per_block - 1) / per_block));
  uint64_t seed = g.seed();
  std::vector<double> v(static_cast<size_t>(n));
  parallel_for(0, n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Philox r = philox4x32_10(seed, base + uint64_t(i / per_block));
      v[size_t(i)] = value(r, int(i % per_block));
    }
  });
  Tensor t = Tensor::from_vector(v, shape);
  return dtype == DType::f64 ? t : t.to(dtype);
}

}  // namespace

Tensor Tensor::uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
  SSM_CHECK(low <= high, "uniform: low ", low, " > high ", high);
  bool wide = dtype == DType::f64;
  return fill_random(shape, dtype, gen, wide, [&](const Philox& r, int k) {
    double u = wide ? uniform_f64(r.w[2 * k], r.w[2 * k + 1]) : double(uniform_f32(r.w[k]));
    return low + (high - low) * u;
  });
}

Tensor Tensor::rand(const Shape& shape, DType dtype, Generator* gen) {
  return uniform(shape, 0.0, 1.0, dtype, gen);
}

Tensor Tensor::randn(const Shape& shape, DType dtype, Generator* gen) {
  // Box-Muller on the block's words: (w0, w1) -> two normals, (w2, w3) -> two more; in f64 all
  // four words make one pair.
  bool wide = dtype == DType::f64;
  return fill_random(shape, dtype, gen, wide, [&](const Philox& r, int k) {
    double u1, u2;
    int which;
    if (wide) {
      u1 = uniform_f64(r.w[0], r.w[1]);
      u2 = uniform_f64(r.w[2], r.w[3]);
      which = k;
    } else {
      int pair = k / 2;
      u1 = double(uniform_f32(r.w[2 * pair]));
      u2 = double(uniform_f32(r.w[2 * pair + 1]));
      which = k % 2;
    }
    double rad = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1 - u1 is in (0, 1]
    double ang = 2.0 * M_PI * u2;
    return which == 0 ? rad * std::cos(ang) : rad * std::sin(ang);
  });
}

Tensor Tensor::randint(const Shape& shape, int64_t low, int64_t high, DType dtype, Generator* gen) {
  SSM_CHECK(low < high, "randint: low ", low, " must be < high ", high);
  SSM_CHECK(is_index(dtype), "randint: dtype must be int32 or int64, got ", dtype);
  SSM_CHECK(high - low <= (int64_t(1) << 53), "randint: range [", low, ", ", high,
            ") is wider than 2^53");
  uint64_t span = uint64_t(high - low);
  Tensor t = fill_random(shape, DType::f64, gen, true, [&](const Philox& r, int k) {
    uint64_t v = (uint64_t(r.w[2 * k]) << 32) | r.w[2 * k + 1];
    return double(low + int64_t(v % span));  // modulo bias is below 2^-32 for spans < 2^32
  });
  return t.to(dtype);
}

}  // namespace ssm
