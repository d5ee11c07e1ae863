// CUDA multi-tensor AdamW, global norm and scale: one launch each for a whole list of tensors.
//
// The tensors are cut into chunks of kChunk elements; block b finds its tensor by binary search
// of b in the table's running chunk counts (the table lives in device memory, uploaded with an
// asynchronous copy, so no launch waits for the host). AdamW in float32 on float32 params and
// grads uses 16-byte loads and stores when every pointer is 16-byte aligned (chunk starts are
// multiples of 4 elements). The norm sums squares in float64: each block writes one partial, and
// one block adds the partials in a fixed order, so the norm does not vary between runs.
#include <cuda_runtime.h>

#include <type_traits>
#include <vector>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/cuda/optim_cuda.h"

namespace ssm::cuda {

namespace {

constexpr int64_t kChunk = 8192;
constexpr int kThreads = 256;

template <class E>
struct Slot {
  E e;
  int64_t first_chunk;
};

// Uploads the entries with their running chunk counts; returns the table and the block count.
template <class E>
Slot<E>* upload(const std::vector<E>& entries, int device, int64_t* blocks) {
  std::vector<Slot<E>> slots;
  int64_t at = 0;
  for (const E& e : entries) {
    if (e.n == 0) continue;
    slots.push_back({e, at});
    at += (e.n + kChunk - 1) / kChunk;
  }
  *blocks = at;
  if (slots.empty()) return nullptr;
  size_t bytes = slots.size() * sizeof(Slot<E>);
  auto* table = static_cast<Slot<E>*>(alloc(bytes, device));
  cudaError_t err = cudaMemcpyAsync(table, slots.data(), bytes, cudaMemcpyHostToDevice, ::ssm::cuda::stream());
  SSM_CHECK(err == cudaSuccess, "optimizer: CUDA error uploading the tensor table: ",
            cudaGetErrorString(err));
  return table;
}

// The slot holding chunk `b`, and the element range [lo, hi) of that chunk.
template <class E>
__device__ const E& find(const Slot<E>* table, int n_slots, int64_t b, int64_t* lo, int64_t* hi) {
  int a = 0, z = n_slots - 1;
  while (a < z) {
    int mid = (a + z + 1) / 2;
    if (table[mid].first_chunk <= b) a = mid;
    else z = mid - 1;
  }
  const E& e = table[a].e;
  *lo = (b - table[a].first_chunk) * kChunk;
  *hi = *lo + kChunk < e.n ? *lo + kChunk : e.n;
  return e;
}

int count_slots(const std::vector<AdamWEntry>& v) {
  int n = 0;
  for (const auto& e : v) n += e.n > 0;
  return n;
}
int count_slots(const std::vector<NormEntry>& v) {
  int n = 0;
  for (const auto& e : v) n += e.n > 0;
  return n;
}

// ---- AdamW ----------------------------------------------------------------------------------

struct Hyper {
  double b1, b2, eps, rbc2;
};

template <class C>
__device__ __forceinline__ void adamw_one(C& p, C g, C& m, C& v, C b1, C ob1, C b2, C ob2,
                                          C eps, C rbc2, C decay, C step) {
  m = b1 * m + ob1 * g;
  v = b2 * v + ob2 * g * g;
  p = p * decay - step * m / (sqrt(v) * rbc2 + eps);
}

// The new param value i into the entry's shadow (autocast's cached 16-bit cast), rounded as the
// cast kernel rounds (core/convert.h), so the shadow equals a fresh cast bit for bit.
__device__ __forceinline__ void store_shadow(const AdamWEntry& e, int64_t i, float v) {
  if (e.shadow_dtype == DType::bf16)
    static_cast<bf16*>(e.shadow)[i] = Scalar<bf16>::store(v);
  else
    static_cast<f16*>(e.shadow)[i] = Scalar<f16>::store(v);
}

template <class P, class G>
__device__ void adamw_chunk(const AdamWEntry& e, int64_t lo, int64_t hi, const Hyper& h) {
  using C = std::conditional_t<std::is_same_v<P, double>, double, float>;
  P* p = static_cast<P*>(e.p);
  const G* g = static_cast<const G*>(e.g);
  C* m = static_cast<C*>(e.m);
  C* v = static_cast<C*>(e.v);
  const C b1 = C(h.b1), ob1 = C(1 - h.b1), b2 = C(h.b2), ob2 = C(1 - h.b2), eps = C(h.eps),
          rbc2 = C(h.rbc2), decay = C(e.decay), step = C(e.step_size);
  if constexpr (std::is_same_v<P, float> && std::is_same_v<G, float>) {
    auto aligned = [](const void* q) { return (reinterpret_cast<uintptr_t>(q) & 15) == 0; };
    if (aligned(p) && aligned(g) && aligned(m) && aligned(v)) {
      int64_t n4 = (hi - lo) / 4;
      float4* p4 = reinterpret_cast<float4*>(p + lo);
      const float4* g4 = reinterpret_cast<const float4*>(g + lo);
      float4* m4 = reinterpret_cast<float4*>(m + lo);
      float4* v4 = reinterpret_cast<float4*>(v + lo);
      for (int64_t i = threadIdx.x; i < n4; i += blockDim.x) {
        float4 pp = p4[i], gg = g4[i], mm = m4[i], vv = v4[i];
        adamw_one(pp.x, gg.x, mm.x, vv.x, b1, ob1, b2, ob2, eps, rbc2, decay, step);
        adamw_one(pp.y, gg.y, mm.y, vv.y, b1, ob1, b2, ob2, eps, rbc2, decay, step);
        adamw_one(pp.z, gg.z, mm.z, vv.z, b1, ob1, b2, ob2, eps, rbc2, decay, step);
        adamw_one(pp.w, gg.w, mm.w, vv.w, b1, ob1, b2, ob2, eps, rbc2, decay, step);
        p4[i] = pp;
        m4[i] = mm;
        v4[i] = vv;
        if (e.shadow) {
          const int64_t j = lo + 4 * i;
          store_shadow(e, j, pp.x);
          store_shadow(e, j + 1, pp.y);
          store_shadow(e, j + 2, pp.z);
          store_shadow(e, j + 3, pp.w);
        }
      }
      lo += n4 * 4;
    }
  }
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    C pi = C(Scalar<P>::load(p[i])), mi = m[i], vi = v[i];
    adamw_one(pi, C(Scalar<G>::load(g[i])), mi, vi, b1, ob1, b2, ob2, eps, rbc2, decay, step);
    m[i] = mi;
    v[i] = vi;
    p[i] = Scalar<P>::store(static_cast<acc_t<P>>(pi));
    if constexpr (!std::is_same_v<P, double>) {
      if (e.shadow) store_shadow(e, i, Scalar<P>::load(p[i]));
    }
  }
}

template <class P>
__device__ void adamw_by_grad(const AdamWEntry& e, int64_t lo, int64_t hi, const Hyper& h) {
  switch (e.g_dtype) {
    case DType::f32: adamw_chunk<P, float>(e, lo, hi, h); break;
    case DType::f64: adamw_chunk<P, double>(e, lo, hi, h); break;
    case DType::bf16: adamw_chunk<P, bf16>(e, lo, hi, h); break;
    default: adamw_chunk<P, f16>(e, lo, hi, h); break;
  }
}

__global__ void adamw_kernel(const Slot<AdamWEntry>* table, int n_slots, Hyper h) {
  int64_t lo, hi;
  const AdamWEntry& e = find(table, n_slots, blockIdx.x, &lo, &hi);
  switch (e.p_dtype) {
    case DType::f32: adamw_by_grad<float>(e, lo, hi, h); break;
    case DType::f64: adamw_by_grad<double>(e, lo, hi, h); break;
    case DType::bf16: adamw_by_grad<bf16>(e, lo, hi, h); break;
    default: adamw_by_grad<f16>(e, lo, hi, h); break;
  }
}

// ---- norm and scale ---------------------------------------------------------------------------

// Sum over the block in a fixed order (shuffles within warps, then warps in order).
__device__ double block_sum(double x) {
  __shared__ double warp_sums[32];
  for (int o = 16; o > 0; o /= 2) x += __shfl_down_sync(0xffffffffu, x, o);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = x;
  __syncthreads();
  double total = 0;
  if (threadIdx.x == 0)
    for (int w = 0; w < int(blockDim.x / 32); ++w) total += warp_sums[w];
  return total;  // valid in thread 0
}

__global__ void sumsq_kernel(const Slot<NormEntry>* table, int n_slots, double* partials) {
  int64_t lo, hi;
  const NormEntry& e = find(table, n_slots, blockIdx.x, &lo, &hi);
  double s = 0;
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    double x = load_as<double>(e.p, i, e.dtype);
    s += x * x;
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void finish_norm_kernel(const double* partials, int64_t n, double* out) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += partials[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *out = sqrt(s);
}

template <class T>
__device__ void scale_chunk(const NormEntry& e, int64_t lo, int64_t hi, double scale) {
  using S = Scalar<T>;
  T* x = static_cast<T*>(e.p);
  const acc_t<T> s = S::load(S::store(acc_t<T>(scale)));
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) x[i] = S::store(S::load(x[i]) * s);
}

__global__ void scale_kernel(const Slot<NormEntry>* table, int n_slots, double scale) {
  int64_t lo, hi;
  const NormEntry& e = find(table, n_slots, blockIdx.x, &lo, &hi);
  switch (e.dtype) {
    case DType::f32: scale_chunk<float>(e, lo, hi, scale); break;
    case DType::f64: scale_chunk<double>(e, lo, hi, scale); break;
    case DType::bf16: scale_chunk<bf16>(e, lo, hi, scale); break;
    default: scale_chunk<f16>(e, lo, hi, scale); break;
  }
}

void check_grid(int64_t blocks, const char* op) {
  SSM_CHECK(blocks < (int64_t(1) << 31), op, ": ", blocks * kChunk,
            " elements are more than one launch takes");
}

}  // namespace

void adamw_step(const std::vector<AdamWEntry>& entries, double beta1, double beta2, double eps,
                double rbc2, int device) {
  int64_t blocks = 0;
  Slot<AdamWEntry>* table = upload(entries, device, &blocks);
  if (!table) return;
  check_grid(blocks, "adamw_step_");
  adamw_kernel<<<unsigned(blocks), kThreads, 0, ::ssm::cuda::stream()>>>(table, count_slots(entries),
                                               Hyper{beta1, beta2, eps, rbc2});
  check_launch("adamw_step_");
  dealloc(table, device);
}

void global_norm(const std::vector<NormEntry>& entries, double* out, int device) {
  int64_t blocks = 0;
  Slot<NormEntry>* table = upload(entries, device, &blocks);
  if (!table) {
    cudaError_t err = cudaMemsetAsync(out, 0, sizeof(double), ::ssm::cuda::stream());
    SSM_CHECK(err == cudaSuccess, "global_grad_norm: ", cudaGetErrorString(err));
    return;
  }
  check_grid(blocks, "global_grad_norm");
  auto* partials = static_cast<double*>(alloc(size_t(blocks) * sizeof(double), device));
  sumsq_kernel<<<unsigned(blocks), kThreads, 0, ::ssm::cuda::stream()>>>(table, count_slots(entries), partials);
  finish_norm_kernel<<<1, 1024, 0, ::ssm::cuda::stream()>>>(partials, blocks, out);
  check_launch("global_grad_norm");
  dealloc(partials, device);
  dealloc(table, device);
}

void scale(const std::vector<NormEntry>& entries, double s, int device) {
  int64_t blocks = 0;
  Slot<NormEntry>* table = upload(entries, device, &blocks);
  if (!table) return;
  check_grid(blocks, "scale_");
  scale_kernel<<<unsigned(blocks), kThreads, 0, ::ssm::cuda::stream()>>>(table, count_slots(entries), s);
  check_launch("scale_");
  dealloc(table, device);
}

}  // namespace ssm::cuda
