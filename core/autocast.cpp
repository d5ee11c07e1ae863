#include "core/autocast.h"

#include "core/error.h"

namespace ssm {

namespace {
thread_local std::optional<DType> g_autocast;
}

std::optional<DType> autocast_dtype() { return g_autocast; }

AutocastGuard::AutocastGuard(std::optional<DType> dtype) : prev_(g_autocast) {
  SSM_CHECK(!dtype || *dtype == DType::bf16 || *dtype == DType::f16,
            "autocast: the dtype must be bfloat16 or float16, got ", *dtype);
  g_autocast = dtype;
}

AutocastGuard::~AutocastGuard() { g_autocast = prev_; }

Tensor autocast(const Tensor& t) {
  if (!g_autocast || !t.defined() || t.dtype() != DType::f32 || !t.device().is_cuda()) return t;
  return t.to(*g_autocast);
}

}  // namespace ssm
