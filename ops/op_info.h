// The op table: one entry per user-facing op, written beside the op (ops/<op>.cpp; the core
// views and copies in ops/op_info_core.cpp, since core/ sits below ops/).
//
// An entry calls its op from a list of tensors and a JSON object of arguments and says how to
// make sample inputs. The same arguments are stored in the PyTorch fixtures
// (tools/make_fixtures.py), so one `run` serves both. The tests walk the table: float64
// gradchecks, fixture comparisons, bf16/f16 against float64, and every CUDA kernel against the
// CPU (tests/ops/{gradcheck,fixture,lowp,registry}_test.cpp, tests/cuda/op_info_cuda_test.cpp);
// tests/ops/registry_test.cpp fails for a Node kind of core/op_list.h without an entry.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/rng.h"

namespace ssm::testing {

using json = nlohmann::json;

// The one tolerance rule of the tests: an element passes when
//   |actual - expected| <= atol + rtol * |expected|
// and, over the whole tensor, the relative RMS error sqrt(sum (a - e)^2 / sum e^2) stays below
// `rms` (when set). Defaults per dtype (default_tol, tests/support/compare.h).
struct Tol {
  double atol;
  double rtol;
  double rms = 0;  // 0: no aggregate bound
};
Tol default_tol(DType dt);

// Float64 central differences: step eps, per-element bound atol + rtol * |numerical|.
struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
};

struct Sample {
  std::string label;           // what the case exercises: "broadcast", "non-contiguous", ...
  std::vector<Tensor> inputs;  // float64 (index/bool inputs keep their dtype)
  json args = json::object();
};

struct OpInfo {
  std::string name;  // the fixture file name; equals op_name() of the Node it records, if any
  std::vector<OpId> nodes;  // the Node kinds this entry must produce (checked in the gradcheck)
  std::function<std::vector<Tensor>(const std::vector<Tensor>&, const json&)> run;
  std::function<std::vector<Sample>(Generator&)> samples;
  GradcheckOptions grad{};
  bool lowp = true;  // also check bf16 and f16 against float64
  // The dtype of output k when the op runs on 16-bit inputs of dtype dt (given the sample's args);
  // unset: every output keeps dt. For outputs that are wider by design (add_rms_norm's float32
  // residual stream).
  std::function<DType(DType dt, size_t k, const json& args)> lowp_out_dtype{};
  Tol bf16 = default_tol(DType::bf16);
  Tol f16 = default_tol(DType::f16);
};

std::vector<OpInfo>& op_infos();
const OpInfo* find_op_info(const std::string& name);

struct OpInfoRegistrar {
  explicit OpInfoRegistrar(OpInfo info) { op_infos().push_back(std::move(info)); }
};

// ---- helpers for writing samples ----

// Standard normal float64 tensor.
Tensor randn(Generator& g, const Shape& shape);
// Uniform in [lo, hi).
Tensor uniform(Generator& g, const Shape& shape, double lo, double hi);
// Values whose magnitude is at least `gap` (for ops with a kink at 0: abs, relu, ...).
Tensor away_from_zero(Generator& g, const Shape& shape, double gap = 0.1);
// A non-contiguous tensor of `shape`: built transposed in its last two dims, then transposed back.
Tensor noncontig(const Tensor& t);

}  // namespace ssm::testing

#define SSM_OP_INFO_CAT2(a, b) a##b
#define SSM_OP_INFO_CAT(a, b) SSM_OP_INFO_CAT2(a, b)
#define SSM_OP_INFO(...)                                                             \
  static ::ssm::testing::OpInfoRegistrar SSM_OP_INFO_CAT(ssm_op_info_, __LINE__)( \
      ::ssm::testing::OpInfo __VA_ARGS__)
