// Per-backend kernel tables: each op is defined once over them.
//
// An op family declares one struct of kernels (plain function pointers over Tensors) that every
// backend fills in, e.g. in ops/causal_conv1d.h's kernel section:
//
//   struct CausalConv1dKernels {
//     bool (*supports)(DType);           // which input dtypes these kernels take
//     void (*forward)(const ConvArgs&, Tensor& y);
//     void (*backward)(const ConvArgs&, const Tensor& gy, ConvGrads& out);
//   };
//
// The CPU table sits beside the op (ops/causal_conv1d.cpp) and the CUDA table beside its kernels
// (ops/cuda/causal_conv1d.cpp, compiled in CUDA builds only); each registers itself with
// SSM_REGISTER_KERNELS. The op itself -- shape and dtype checks, output allocation, the one
// autograd record and its backward -- is written once and looks its table up by device:
//
//   const CausalConv1dKernels& k = kernels<CausalConv1dKernels>("causal_conv1d", x);
//
// A device whose backend has no table for the op, or a table whose supports() rejects the dtype,
// is an ssm::Error naming the op, the tensor and what is missing, never a silent fallback.
// Registration runs during static initialisation: the library is linked whole-archive (CMake's
// WHOLE_ARCHIVE feature) so that every table's object file is kept.
#pragma once

#include <cstdint>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace ssm {

inline constexpr int kNumBackends = 2;  // one per DeviceType

inline const char* backend_name(DeviceType t) { return t == DeviceType::cpu ? "CPU" : "CUDA"; }

// The registered table of kernel struct K per backend (null where none is registered).
template <class K>
struct KernelTables {
  static inline const K* table[kNumBackends] = {};
};

template <class K>
struct KernelRegistrar {
  KernelRegistrar(DeviceType t, const K& k) { KernelTables<K>::table[int(t)] = &k; }
};

// The table of K for `device`, or null when that backend has none (this build lacks it).
template <class K>
const K* find_kernels(Device device) {
  return KernelTables<K>::table[int(device.type)];
}

// Whether `device`'s backend runs op K on inputs of dtype `dt`.
template <class K>
bool supports(Device device, DType dt) {
  const K* k = find_kernels<K>(device);
  return k && k->supports(dt);
}

// The kernels of `op` for tensor `t` (its device and dtype), or an ssm::Error saying why not.
template <class K>
const K& kernels(const char* op, const Tensor& t) {
  const K* k = find_kernels<K>(t.device());
  SSM_CHECK(k, op, ": no ", backend_name(t.device().type), " kernel for ", describe(t));
  SSM_CHECK(k->supports(t.dtype()), op, ": the ", backend_name(t.device().type),
            " kernels do not support dtype ", t.dtype(), " (input ", describe(t), ")");
  return *k;
}

// Kernel-table predicates for the common dtype sets.
inline bool all_dtypes(DType) { return true; }
inline bool real_dtypes(DType dt) { return !is_complex(dt); }                     // bool included
inline bool numeric_dtypes(DType dt) { return is_floating(dt) || is_index(dt); }  // no bool
inline bool floating_dtypes(DType dt) { return is_floating(dt); }
inline bool wide_float_dtypes(DType dt) { return dt == DType::f32 || dt == DType::f64; }

}  // namespace ssm

#define SSM_KERNELS_CAT2(a, b) a##b
#define SSM_KERNELS_CAT(a, b) SSM_KERNELS_CAT2(a, b)
// SSM_REGISTER_KERNELS(CausalConv1dKernels, cpu, kCpuKernels): registers a backend's table.
#define SSM_REGISTER_KERNELS(K, backend, table)                                           \
  static const ::ssm::KernelRegistrar<K> SSM_KERNELS_CAT(ssm_kernels_, __LINE__)( \
      ::ssm::DeviceType::backend, table)
