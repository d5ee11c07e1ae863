// GEMMs through cuBLASLt (float32, bfloat16, float16) and cublasDgemm (float64), with one handle
// pair and one workspace per device, and the small kernels of linear (bias rows, bias gradient).
//
// Row-major C (M, N) = A B is column-major C^T (N, M) = B^T A^T: the operands go to cuBLAS
// swapped, each with its stored layout and a transpose flag, never copied. The algorithm that
// cuBLASLt's heuristic picks is cached per problem (shape, layouts, dtypes, alignment), so a
// decoding loop of M = 1 products pays the heuristic once.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <mutex>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/matmul_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

constexpr size_t kWorkspace = 32u << 20;  // cuBLAS's recommendation for Hopper

void ck_blas(cublasStatus_t s, const char* what) {
  SSM_CHECK(s == CUBLAS_STATUS_SUCCESS, "matmul: ", what, " failed: ", cublasGetStatusString(s));
}

struct Handles {
  cublasLtHandle_t lt = nullptr;
  cublasHandle_t blas = nullptr;
  void* workspace = nullptr;
};

// Per device, created on first use and kept for the process (the workspace comes from the
// caching allocator and is never returned).
Handles& handles(int device) {
  static std::mutex mu;
  static std::map<int, Handles> all;
  std::lock_guard<std::mutex> lock(mu);
  Handles& h = all[device];
  if (!h.lt) {
    ck_blas(cublasLtCreate(&h.lt), "cublasLtCreate");
    ck_blas(cublasCreate(&h.blas), "cublasCreate");
    h.workspace = alloc(kWorkspace, device);
  }
  return h;
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f64: return CUDA_R_64F;
    case DType::bf16: return CUDA_R_16BF;
    default: return CUDA_R_16F;
  }
}

// Largest power of two (<= 256) dividing the address: what cuBLASLt may assume about it.
int64_t alignment(const void* p) {
  auto u = reinterpret_cast<uintptr_t>(p);
  int64_t a = 256;
  while (a > 1 && u % uint64_t(a)) a /= 2;
  return a;
}

void dgemm(const GemmCall& c) {
  for (int64_t v : {c.M, c.N, c.K, c.a.ld, c.b.ld, c.ldc, c.batch})
    SSM_CHECK(v <= INT_MAX, "matmul: a float64 GEMM dim or leading dim of ", v,
              " exceeds what cuBLAS (32-bit int) accepts");
  Handles& h = handles(c.device);
  double alpha = 1.0, beta = c.accumulate ? 1.0 : 0.0;
  // column-major: C^T (N, M) = op(B stored) op(A stored)
  ck_blas(cublasSetStream(h.blas, ::ssm::cuda::stream()), "cublasSetStream");
  ck_blas(cublasDgemmStridedBatched(h.blas, c.b.trans ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    c.a.trans ? CUBLAS_OP_T : CUBLAS_OP_N, int(c.N), int(c.M),
                                    int(c.K), &alpha, static_cast<const double*>(c.b.p),
                                    int(c.b.ld), c.b.batch_stride, static_cast<const double*>(c.a.p),
                                    int(c.a.ld), c.a.batch_stride, &beta, static_cast<double*>(c.c),
                                    int(c.ldc), c.c_batch_stride, int(c.batch)),
          "cublasDgemmStridedBatched");
}

using AlgoKey = std::array<int64_t, 20>;

struct LtDescs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  ~LtDescs() {
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

void set_batch(cublasLtMatrixLayout_t l, int32_t batch, int64_t stride) {
  if (batch == 1) return;
  ck_blas(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch),
          "layout batch");
  ck_blas(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                           sizeof stride),
          "layout batch stride");
}

void lt_gemm(const GemmCall& c) {
  SSM_CHECK(c.batch <= INT_MAX, "matmul: ", c.batch, " batch matrices exceed cuBLASLt's limit");
  Handles& h = handles(c.device);
  bool tf32 = c.dtype == DType::f32 && allow_tf32();
  cublasComputeType_t ct = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  cudaDataType_t ab_t = cuda_type(c.dtype), c_t = cuda_type(c.c_dtype);
  // cuBLAS's first operand is B stored: (N, K) column-major when B is row-major (K, N).
  cublasOperation_t ta = c.b.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = c.a.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  LtDescs d;
  ck_blas(cublasLtMatmulDescCreate(&d.op, ct, CUDA_R_32F), "cublasLtMatmulDescCreate");
  ck_blas(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "transa");
  ck_blas(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "transb");
  if (c.bias) {
    cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
    ck_blas(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep), "epilogue");
    ck_blas(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &c.bias,
                                           sizeof c.bias),
            "bias pointer");
    cudaDataType_t bt = ab_t;
    ck_blas(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt),
            "bias type");
  }
  uint64_t M = uint64_t(c.M), N = uint64_t(c.N), K = uint64_t(c.K);
  ck_blas(cublasLtMatrixLayoutCreate(&d.la, ab_t, c.b.trans ? K : N, c.b.trans ? N : K, c.b.ld), "layout B");
  ck_blas(cublasLtMatrixLayoutCreate(&d.lb, ab_t, c.a.trans ? M : K, c.a.trans ? K : M, c.a.ld), "layout A");
  ck_blas(cublasLtMatrixLayoutCreate(&d.lc, c_t, N, M, c.ldc), "layout C");
  set_batch(d.la, int32_t(c.batch), c.b.batch_stride);
  set_batch(d.lb, int32_t(c.batch), c.a.batch_stride);
  set_batch(d.lc, int32_t(c.batch), c.c_batch_stride);

  int64_t al_a = alignment(c.b.p), al_b = alignment(c.a.p), al_c = alignment(c.c),
          al_bias = c.bias ? alignment(c.bias) : 256;
  AlgoKey key = {c.device, c.M, c.N, c.K, c.batch, c.a.trans, c.b.trans, c.a.ld, c.b.ld, c.ldc,
                 int64_t(c.dtype), int64_t(c.c_dtype), c.bias != nullptr, tf32, al_a, al_b, al_c,
                 al_bias, c.a.batch_stride * 3 + c.b.batch_stride, c.c_batch_stride};
  static std::mutex mu;
  static std::map<AlgoKey, cublasLtMatmulAlgo_t> cache;
  cublasLtMatmulAlgo_t algo;
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) {
      algo = it->second;
      found = true;
    }
  }
  if (!found) {
    cublasLtMatmulPreference_t pref;
    ck_blas(cublasLtMatmulPreferenceCreate(&pref), "preference");
    size_t ws = kWorkspace;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    uint32_t a32[4] = {uint32_t(al_a), uint32_t(al_b), uint32_t(al_c), uint32_t(al_bias)};
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &a32[0], 4);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &a32[1], 4);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &a32[2], 4);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &a32[2], 4);
    cublasLtMatmulHeuristicResult_t res;
    int n = 0;
    cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(h.lt, d.op, d.la, d.lb, d.lc, d.lc, pref, 1, &res, &n);
    cublasLtMatmulPreferenceDestroy(pref);
    SSM_CHECK(s == CUBLAS_STATUS_SUCCESS && n > 0, "matmul: cuBLASLt has no algorithm for (", c.M,
              ", ", c.K, ") @ (", c.K, ", ", c.N, ") in ", dtype_name(c.dtype), " (batch ", c.batch,
              "): ", cublasGetStatusString(s));
    algo = res.algo;
    std::lock_guard<std::mutex> lock(mu);
    cache[key] = algo;
  }
  float alpha = 1.0f, beta = c.accumulate ? 1.0f : 0.0f;
  ck_blas(cublasLtMatmul(h.lt, d.op, &alpha, c.b.p, d.la, c.a.p, d.lb, &beta, c.c, d.lc, c.c, d.lc,
                         &algo, h.workspace, kWorkspace, ::ssm::cuda::stream()),
          "cublasLtMatmul");
}

template <class T>
__global__ void cast_kernel(const float* src, T* out, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) st_t<T>(out, i, src[i]);
}

template <class T>
__global__ void fill_rows_kernel(T* y, const T* bias, int64_t R, int64_t N) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= R * N) return;
  y[i] = bias ? bias[i % N] : T{};
}

// partial[chunk, n] = sum of rows [chunk * rows_per, ...) of column n; block (32, 8).
template <class T, class A>
__global__ void sum_rows_partial(const T* g, int64_t ld, A* partial, int64_t R, int64_t N,
                                 int64_t rows_per) {
  __shared__ A sm[8][33];
  int64_t n = int64_t(blockIdx.x) * 32 + threadIdx.x;
  int64_t r0 = int64_t(blockIdx.y) * rows_per, r1 = r0 + rows_per < R ? r0 + rows_per : R;
  A s = 0;
  if (n < N)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) s += ld_t<T>(g, r * ld + n);
  sm[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && n < N) {
    for (int k = 1; k < 8; ++k) s += sm[k][threadIdx.x];
    partial[int64_t(blockIdx.y) * N + n] = s;
  }
}

template <class T, class A>
__global__ void sum_partials(const A* partial, T* out, int64_t nchunk, int64_t N) {
  int64_t n = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (n >= N) return;
  A s = 0;
  for (int64_t k = 0; k < nchunk; ++k) s += partial[k * N + n];
  st_t<T>(out, n, s);
}

int blocks(int64_t n, int threads) { return int((n + threads - 1) / threads); }

// c[m, n] = sum_k a[m, k] B[n, k] (+ bias[n]) for small M, B stored (N, K) row-major (a weight
// read as its transpose: the linear of a decoding step). A warp per n reads row n of B once per
// m (coalesced; the rows stay in L1/L2 across m); float32 sums.
template <class T>
__global__ void gemv_rows_kernel(const T* a, int64_t am, int64_t ak, const T* B, int64_t ld,
                                 const T* bias, T* c, int64_t ldc, int64_t M, int64_t N, int64_t K) {
  int64_t n = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (n >= N) return;
  const T* row = B + n * ld;
  for (int64_t m = 0; m < M; ++m) {
    float s = 0;
    for (int64_t k = lane; k < K; k += 32) s += float(ld_t<T>(a, m * am + k * ak)) * float(ld_t<T>(row, k));
    for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) st_t<T>(c, m * ldc + n, s + (bias ? float(ld_t<T>(bias, n)) : 0.0f));
  }
}

constexpr int64_t kGemvMaxM = 4;  // above this, cuBLASLt's GEMM reads B fewer times

}  // namespace

void gemm(const GemmCall& c) {
  if (c.M == 0 || c.N == 0 || c.batch == 0) return;
  if (c.dtype != DType::f64 && c.M <= kGemvMaxM && c.batch == 1 && c.b.trans && !c.accumulate &&
      c.c_dtype == c.dtype) {
    // a (M, K): element (m, k) at m * ld + k, or at k * ld + m when stored transposed
    int64_t am = c.a.trans ? 1 : c.a.ld, ak = c.a.trans ? c.a.ld : 1;
    SSM_CUDA_DISPATCH_FLOAT(c.dtype, [&] {
      gemv_rows_kernel<scalar_t><<<blocks(c.N * 32, 256), 256, 0, ::ssm::cuda::stream()>>>(
          static_cast<const scalar_t*>(c.a.p), am, ak, static_cast<const scalar_t*>(c.b.p), c.b.ld,
          static_cast<const scalar_t*>(c.bias), static_cast<scalar_t*>(c.c), c.ldc, c.M, c.N, c.K);
    });
    check_launch("matmul (gemv)");
    return;
  }
  if (c.dtype != DType::f64) return lt_gemm(c);
  if (!c.bias) return dgemm(c);
  // cuBLAS has no epilogue: C starts as the bias rows and the GEMM accumulates into it.
  SSM_CHECK(c.ldc == c.N && (c.batch == 1 || c.c_batch_stride == c.M * c.N) && !c.accumulate,
            "matmul: a float64 GEMM with bias needs a fresh contiguous C");
  fill_rows(c.c, c.bias, DType::f64, c.batch * c.M, c.N, c.device);
  GemmCall acc = c;
  acc.accumulate = true;
  dgemm(acc);
}

void cast_from_f32(const float* src, void* out, DType dtype, int64_t n, int device) {
  (void)device;
  if (n == 0) return;
  SSM_CUDA_DISPATCH_FLOAT(dtype, [&] {
    cast_kernel<scalar_t><<<blocks(n, 256), 256, 0, ::ssm::cuda::stream()>>>(src, static_cast<scalar_t*>(out), n);
  });
  check_launch("matmul (cast)");
}

void fill_rows(void* y, const void* bias, DType dtype, int64_t R, int64_t N, int device) {
  (void)device;
  if (R * N == 0) return;
  SSM_CUDA_DISPATCH_FLOAT(dtype, [&] {
    fill_rows_kernel<scalar_t><<<blocks(R * N, 256), 256, 0, ::ssm::cuda::stream()>>>(
        static_cast<scalar_t*>(y), static_cast<const scalar_t*>(bias), R, N);
  });
  check_launch("linear (bias rows)");
}

void sum_rows(const void* g, int64_t ld, void* out, DType dtype, int64_t R, int64_t N, int device) {
  if (N == 0) return;
  // Row blocks depend only on R: the result does not depend on the GPU.
  int64_t nchunk = R == 0 ? 1 : std::min<int64_t>((R + 63) / 64, 1024);
  int64_t rows_per = R == 0 ? 1 : (R + nchunk - 1) / nchunk;
  nchunk = R == 0 ? 1 : (R + rows_per - 1) / rows_per;
  SSM_CUDA_DISPATCH_FLOAT(dtype, [&] {
    using A = acc_t<scalar_t>;
    A* part = static_cast<A*>(alloc(size_t(nchunk * N) * sizeof(A), device));
    dim3 grid(unsigned((N + 31) / 32), unsigned(nchunk));
    sum_rows_partial<scalar_t, A><<<grid, dim3(32, 8), 0, ::ssm::cuda::stream()>>>(static_cast<const scalar_t*>(g), ld, part,
                                                         R, N, rows_per);
    sum_partials<scalar_t, A><<<blocks(N, 256), 256, 0, ::ssm::cuda::stream()>>>(part, static_cast<scalar_t*>(out), nchunk, N);
    check_launch("linear (bias gradient)");
    dealloc(part, device);
  });
}

}  // namespace ssm::cuda
