#include "core/autocast.h"

#include <map>

#include "core/autograd.h"
#include "core/error.h"

namespace ssm {

namespace {
thread_local std::optional<DType> g_autocast;
thread_local int g_depth = 0;

// Casts of parameters (leaves that require grad) made without autograd, kept while autocast is on: decoding casts every
// weight once, not once per token. An entry is used only while its source is unchanged (same
// storage and version).
struct CachedCast {
  std::shared_ptr<Storage> storage;
  uint32_t version = 0;
  DType dtype;
  Tensor cast;
};
thread_local std::map<const TensorImpl*, CachedCast> g_cache;
}  // namespace

std::optional<DType> autocast_dtype() { return g_autocast; }

AutocastGuard::AutocastGuard(std::optional<DType> dtype) : prev_(g_autocast) {
  SSM_CHECK(!dtype || *dtype == DType::bf16 || *dtype == DType::f16,
            "autocast: the dtype must be bfloat16 or float16, got ", *dtype);
  g_autocast = dtype;
  ++g_depth;
}

AutocastGuard::~AutocastGuard() {
  g_autocast = prev_;
  if (--g_depth == 0) g_cache.clear();
}

Tensor autocast(const Tensor& t) {
  if (!g_autocast || !t.defined() || t.dtype() != DType::f32 || !t.device().is_cuda()) return t;
  if (grad_enabled() || !t.is_leaf() || !t.requires_grad()) return t.to(*g_autocast);  // parameters only
  CachedCast& c = g_cache[t.impl()];
  if (!c.cast.defined() || c.storage != t.storage() || c.version != t.storage()->version ||
      c.dtype != *g_autocast) {
    c = {t.storage(), t.storage()->version, *g_autocast, t.to(*g_autocast)};
  }
  return c.cast;
}

}  // namespace ssm
