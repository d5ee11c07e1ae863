#include "nn/mamba.h"

#include <cmath>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "ops/causal_conv1d.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/matmul.h"

namespace ssm::nn {

namespace {

// Holds conv1d.weight / conv1d.bias under the names Hugging Face uses.
class DepthwiseConv1d : public Module {
 public:
  DepthwiseConv1d(int64_t channels, int64_t width, bool with_bias, Generator& gen, DType dtype) {
    double bound = 1.0 / std::sqrt(double(width));  // torch.nn.Conv1d's default, fan_in = width
    weight = register_parameter("weight", Tensor::uniform({channels, 1, width}, -bound, bound,
                                                          dtype, &gen));
    if (with_bias)
      bias = register_parameter("bias", Tensor::uniform({channels}, -bound, bound, dtype, &gen));
  }
  Tensor weight, bias;
};

}  // namespace

Mamba::Mamba(const MambaBlockConfig& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t d = cfg.d_model, di = cfg.d_inner(), n = cfg.d_state, r = cfg.rank();
  SSM_CHECK(d > 0 && n > 0 && cfg.expand > 0, "Mamba: d_model, d_state and expand must be > 0");
  SSM_CHECK(cfg.d_conv >= 2 && cfg.d_conv <= 8, "Mamba: d_conv must be in [2, 8], got ", cfg.d_conv);
  SSM_CHECK(cfg.dt_min > 0 && cfg.dt_min <= cfg.dt_max, "Mamba: need 0 < dt_min <= dt_max, got ",
            cfg.dt_min, " and ", cfg.dt_max);
  in_proj = register_module("in_proj", std::make_shared<Linear>(d, 2 * di, cfg.use_bias, gen, cfg.dtype));
  auto conv = register_module("conv1d", std::make_shared<DepthwiseConv1d>(di, cfg.d_conv,
                                                                           cfg.use_conv_bias, gen, cfg.dtype));
  conv_weight = conv->weight;
  conv_bias = conv->bias;
  x_proj = register_module("x_proj", std::make_shared<Linear>(di, r + 2 * n, false, gen, cfg.dtype));
  dt_proj = register_module("dt_proj", std::make_shared<Linear>(r, di, true, gen, cfg.dtype));
  {
    NoGradGuard ng;
    // dt_proj.weight ~ U(-s, s), s = dt_scale / sqrt(dt_rank)
    double s = cfg.dt_scale / std::sqrt(double(r));
    dt_proj->weight.copy_(Tensor::uniform({di, r}, -s, s, DType::f64, &gen));
    // dt_proj.bias = softplus^-1(Δ), Δ log-uniform in [dt_min, dt_max], floored
    auto u = Tensor::rand({di}, DType::f64, &gen).to_vector<double>();
    std::vector<double> inv(u.size());
    for (size_t i = 0; i < u.size(); ++i) {
      double dt = std::exp(u[i] * (std::log(cfg.dt_max) - std::log(cfg.dt_min)) + std::log(cfg.dt_min));
      dt = std::max(dt, cfg.dt_init_floor);
      inv[i] = dt + std::log(-std::expm1(-dt));
    }
    dt_proj->bias.copy_(Tensor::from_vector(inv, {di}));
  }
  std::vector<double> a_log(size_t(di * n));
  for (int64_t c = 0; c < di; ++c)
    for (int64_t k = 0; k < n; ++k) a_log[size_t(c * n + k)] = std::log(double(k + 1));
  A_log = register_parameter("A_log", Tensor::from_vector(a_log, {di, n}).to(cfg.dtype));
  D = register_parameter("D", Tensor::ones({di}, cfg.dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(di, d, cfg.use_bias, gen, cfg.dtype));
  {
    NoGradGuard ng;
    out_proj->weight.copy_(div(out_proj->weight, std::sqrt(double(cfg.n_layer))));
  }
}

Tensor Mamba::mix(const Tensor& x, MambaCache* cache, const Tensor& seq_start) const {
  SSM_CHECK(x.dim() == 3 && x.size(2) == cfg_.d_model, "Mamba: expects (B, L, ", cfg_.d_model,
            "), got ", describe(x));
  const int64_t di = cfg_.d_inner(), n = cfg_.d_state, r = cfg_.rank();
  std::vector<Tensor> xz = split(in_proj->forward(x), di, -1);  // x, z: (B, L, d_inner)
  // Under autocast the conv runs in the dtype in_proj produced; A_log, D and the Δ bias stay
  // float32 (the scan computes in float32 whatever its inputs' dtypes).
  // The parameter itself is cast (a view of it is not a leaf, so its cast would not be cached).
  Tensor w = autocast(conv_weight).view({di, cfg_.d_conv});
  Tensor xs = causal_conv1d(xz[0], w, autocast(conv_bias), /*silu=*/true, seq_start);
  std::vector<Tensor> dbc = split(x_proj->forward(xs), std::vector<int64_t>{r, n, n}, -1);
  Tensor dt = linear(dbc[0], autocast(dt_proj->weight));  // its bias is added inside the scan
  Tensor A = neg(exp(A_log));
  Tensor fin;
  Tensor y = selective_scan(xs, dt, A, dbc[1], dbc[2], D, xz[1], dt_proj->bias, cfg_.scan,
                            cache ? &fin : nullptr, seq_start);
  if (cache) {
    NoGradGuard ng;
    // The conv window holds the last d_conv pre-conv inputs, zero-padded on the left.
    int64_t B = x.size(0), L = x.size(1), W = cfg_.d_conv;
    // Kept in the parameters' dtype (as new_cache makes it), also when autocast made x 16-bit.
    Tensor window = Tensor::zeros({B, W, di}, A_log.dtype(), xz[0].device());
    int64_t take = std::min(L, W);
    window.narrow(1, W - take, take).copy_(xz[0].narrow(1, L - take, take));
    cache->conv_state = window.permute({0, 2, 1}).contiguous();
    cache->ssm_state = fin;
  }
  return out_proj->forward(y);
}

Tensor Mamba::forward(const Tensor& x, const Tensor& seq_start) const {
  return mix(x, nullptr, seq_start);
}

Tensor Mamba::forward_with_cache(const Tensor& x, MambaCache& cache) const { return mix(x, &cache); }

MambaCache Mamba::new_cache(int64_t batch) const {
  DType dt = A_log.dtype();
  Device dev = A_log.device();
  NoGradGuard ng;
  return {Tensor::zeros({batch, cfg_.d_inner(), cfg_.d_conv}, dt, dev),
          Tensor::zeros({batch, cfg_.d_inner(), cfg_.d_state}, compute_dtype(dt), dev), neg(exp(A_log))};
}

Tensor Mamba::step(const Tensor& x, MambaCache& cache) const {
  SSM_CHECK(x.dim() == 2 && x.size(1) == cfg_.d_model, "Mamba::step: expects (B, ", cfg_.d_model,
            "), got ", describe(x));
  NoGradGuard ng;
  const int64_t di = cfg_.d_inner(), n = cfg_.d_state, r = cfg_.rank();
  std::vector<Tensor> xz = split(in_proj->forward(x), di, -1);  // (B, d_inner) each
  Tensor w = conv_weight.view({di, cfg_.d_conv});
  if (xz[0].dtype() != w.dtype()) {  // autocast: the window keeps the weights' dtype
    xz[0] = xz[0].to(w.dtype());
  }
  Tensor xs = causal_conv1d_step(cache.conv_state, xz[0], w, conv_bias, /*silu=*/true);
  std::vector<Tensor> dbc = split(x_proj->forward(xs), std::vector<int64_t>{r, n, n}, -1);
  Tensor dt = linear(dbc[0], autocast(dt_proj->weight));
  Tensor A = cache.A.defined() ? cache.A : neg(exp(A_log));
  Tensor y = selective_scan_step(cache.ssm_state, xs, dt, A, dbc[1], dbc[2], D,
                                 xz[1], dt_proj->bias, cfg_.scan);
  return out_proj->forward(y);
}

}  // namespace ssm::nn
