// CUDA gather / scatter_add for ops/index.cpp (CUDA builds only): plain-pointer launchers.
// Everything runs on the legacy default stream of `device`.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/walk.h"

namespace ssm::cuda {

// out[p] = x[p with its dim-d coordinate replaced by index[p]], over index's shape. The walk's
// operands are (out, index, x with stride 0 along d); `step` is x's stride along d, `bound` its
// size. Elements are moved as bits of `elem_size` bytes. Returns false when an index was out of
// [0, bound) (those positions are left unwritten); this reads one flag back from the device.
bool gather(const Walk<3>& w, void* out, const void* x, const void* index, DType index_dtype,
            int64_t elem_size, int64_t step, int64_t bound, int device);

// dst = src converted (dst contiguous in dst_dtype; the walk's operands are (dst, src)).
// Floating dtypes and int32/int64 (integer to integer only).
void convert(const Walk<2>& w, void* dst, DType dst_dtype, const void* src, DType src_dtype,
             int device);

// acc[p with its dim-d coordinate replaced by index[p]] += src[p] for every position p of
// index's shape. `rest` walks the positions outside d with operands (acc, index, src); each
// position's run along d (`steps` long, strides ostep/istep/sstep) is summed in order by one
// thread, so the result is the CPU's, bit for bit, and does not depend on the launch. acc is
// float32, float64, int32 or int64; src is acc's dtype or (floating acc) any floating dtype.
// Returns false when an index was out of range (skipped), reading one flag back.
bool scatter_add(const Walk<3>& rest, void* acc, DType acc_dtype, const void* index,
                 DType index_dtype, const void* src, DType src_dtype, int64_t steps, int64_t ostep,
                 int64_t istep, int64_t sstep, int64_t bound, int device);

}  // namespace ssm::cuda
