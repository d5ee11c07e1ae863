#include "core/autocast.h"

#include <map>

#include "core/autograd.h"
#include "core/error.h"

namespace ssm {

namespace {
thread_local std::optional<DType> g_autocast;
thread_local int g_depth = 0;

// Casts of parameters (leaves that require grad), kept while autocast is on: decoding casts every
// weight once, not once per token, and training once per step or not at all (autocast_shadow).
// An entry is used only while its source is unchanged (same storage and version).
struct CachedCast {
  std::shared_ptr<Storage> storage;
  uint32_t version = 0;
  DType dtype;
  Tensor cast;
};
thread_local std::map<const TensorImpl*, CachedCast> g_cache;

bool current(const CachedCast& c, const Tensor& t, DType dtype) {
  return c.cast.defined() && c.storage == t.storage() && c.version == t.storage()->version &&
         c.dtype == dtype;
}
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
  if (!t.is_leaf() || !t.requires_grad()) return t.to(*g_autocast);  // parameters only
  CachedCast& c = g_cache[t.impl()];
  if (!current(c, t, *g_autocast)) {
    NoGradGuard ng;
    c = {t.storage(), t.storage()->version, *g_autocast, t.detach().to(*g_autocast)};
  }
  if (!grad_enabled()) return c.cast;
  // A fresh handle on the cached values whose backward is the cast's (Tensor::to): the gradient
  // goes back to float32 on its way to the parameter.
  Tensor out = c.cast.detach();
  record(OpId::cast, {t}, out, [](Grads& g) { g.in[0] = g.out[0].to(DType::f32); });
  return out;
}

Tensor autocast_shadow(const Tensor& param) {
  if (!g_autocast || !param.defined()) return Tensor();
  auto it = g_cache.find(param.impl());
  if (it == g_cache.end() || !current(it->second, param, *g_autocast)) return Tensor();
  return it->second.cast;
}

void autocast_shadow_written(const Tensor& param) {
  auto it = g_cache.find(param.impl());
  SSM_CHECK(it != g_cache.end() && it->second.storage == param.storage(),
            "autocast_shadow_written: no cached cast of ", describe(param));
  it->second.version = param.storage()->version;
  ++it->second.cast.storage()->version;
}

}  // namespace ssm
