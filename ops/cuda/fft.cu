// Batched 1-D transforms through cuFFT (R2C / C2R / C2C and their double versions D2Z / Z2D /
// Z2Z), with plans cached per (device, n, batch, type), and the small kernel that resizes and
// scales rows around them.
//
// cuFFT transforms rows of exactly the transform's length and does not scale, so rows that are
// truncated or zero-padded (FftKernels' contract, ops/fft.h) go through a scratch buffer, and the
// scale is applied on the way out. cuFFT's out-of-place C2R overwrites its input and assumes it
// Hermitian, so C2R input is always copied, with the imaginary parts of bins 0 and n/2 (which
// irfft ignores) zeroed on the way. Plans are made without a work area; each
// call takes one from the caching allocator (core/cuda/runtime.h), so idle plans hold no
// workspace. Every call runs on cuda::stream().
#include <cufft.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/fft_cuda.h"

namespace ssm::cuda {

namespace {

const char* cufft_error(cufftResult r) {
  switch (r) {
    case CUFFT_INVALID_PLAN: return "invalid plan";
    case CUFFT_ALLOC_FAILED: return "allocation failed";
    case CUFFT_INVALID_TYPE: return "invalid type";
    case CUFFT_INVALID_VALUE: return "invalid value";
    case CUFFT_INTERNAL_ERROR: return "internal error";
    case CUFFT_EXEC_FAILED: return "execution failed";
    case CUFFT_SETUP_FAILED: return "setup failed";
    case CUFFT_INVALID_SIZE: return "invalid size";
    case CUFFT_UNALIGNED_DATA: return "unaligned data";
    case CUFFT_INVALID_DEVICE: return "invalid device";
    case CUFFT_NO_WORKSPACE: return "no workspace";
    case CUFFT_NOT_IMPLEMENTED: return "not implemented";
    case CUFFT_NOT_SUPPORTED: return "not supported";
    default: return "error";
  }
}

void ck(cufftResult r, const char* what, const FftCall& c) {
  SSM_CHECK(r == CUFFT_SUCCESS, "fft: ", what, " failed (cuFFT: ", cufft_error(r), ", code ",
            int(r), ") for ", c.rows, " rows of length n = ", c.n, " in ", dtype_name(c.dtype));
}

cufftType cufft_type(FftType t, DType dt) {
  bool d = dt == DType::f64;
  switch (t) {
    case FftType::r2c: return d ? CUFFT_D2Z : CUFFT_R2C;
    case FftType::c2r: return d ? CUFFT_Z2D : CUFFT_C2R;
    default: return d ? CUFFT_Z2Z : CUFFT_C2C;
  }
}

struct Plan {
  cufftHandle handle = 0;
  size_t work = 0;
  std::mutex mu;  // the stream and work area are set per call: one call at a time
  ~Plan() {
    if (handle) cufftDestroy(handle);
  }
};

struct PlanKey {
  int device;
  int64_t n, batch;
  int type;
  auto operator<=>(const PlanKey&) const = default;
};

// Least recently used plans are dropped beyond this many (a plan in use stays alive through its
// pointer); PyTorch keeps up to 4096, but each plan holds device memory for its tables.
constexpr size_t kMaxPlans = 64;

struct PlanCache {
  std::mutex mu;
  std::map<PlanKey, std::pair<std::shared_ptr<Plan>, uint64_t>> plans;  // plan, last use
  uint64_t clock = 0;
};

PlanCache& plan_cache() {
  static PlanCache c;
  return c;
}

std::shared_ptr<Plan> plan_for(const FftCall& c) {
  PlanKey key{c.device, c.n, c.rows, int(cufft_type(c.type, c.dtype))};
  PlanCache& pc = plan_cache();
  std::lock_guard<std::mutex> lock(pc.mu);
  auto it = pc.plans.find(key);
  if (it != pc.plans.end()) {
    it->second.second = ++pc.clock;
    return it->second.first;
  }
  auto p = std::make_shared<Plan>();
  ck(cufftCreate(&p->handle), "cufftCreate", c);
  ck(cufftSetAutoAllocation(p->handle, 0), "cufftSetAutoAllocation", c);
  long long n = c.n;
  // Basic layout: rows of n values (n/2 + 1 bins on the complex side of R2C / C2R), batch rows.
  ck(cufftMakePlanMany64(p->handle, 1, &n, nullptr, 1, 0, nullptr, 1, 0, cufft_type(c.type, c.dtype),
                         c.rows, &p->work),
     "cufftMakePlanMany64", c);
  if (pc.plans.size() >= kMaxPlans) {
    auto oldest = pc.plans.begin();
    for (auto i = pc.plans.begin(); i != pc.plans.end(); ++i)
      if (i->second.second < oldest->second.second) oldest = i;
    pc.plans.erase(oldest);
  }
  pc.plans.emplace(key, std::make_pair(p, ++pc.clock));
  return p;
}

// dst rows (rows, dst_len, width) from src rows (rows, src_len, width): truncated or zero-padded,
// times scale. hermitian_n > 0: the imaginary parts of bin 0 and bin n/2 (even n) are zeroed (C2R
// input). src may be dst when the lengths are equal (each element is read by its own writer).
template <class T>
__global__ void resize_rows_kernel(const T* src, int64_t src_len, T* dst, int64_t dst_len,
                                   int width, int64_t total, T scale, int64_t hermitian_n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t c = i % width, e = i / width;
    int64_t j = e % dst_len, r = e / dst_len;
    T v = j < src_len ? src[(r * src_len + j) * width + c] * scale : T(0);
    if (hermitian_n > 0 && c == 1 && (j == 0 || 2 * j == hermitian_n)) v = T(0);
    dst[i] = v;
  }
}

void resize_rows(const FftCall& c, const void* src, int64_t src_len, void* dst, int64_t dst_len,
                 int width, double scale, int64_t hermitian_n) {
  int64_t total = c.rows * dst_len * width;
  if (total == 0) return;
  int threads = 256;
  int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, int64_t(1) << 20);
  if (c.dtype == DType::f64)
    resize_rows_kernel<double><<<unsigned(blocks), threads, 0, stream()>>>(
        static_cast<const double*>(src), src_len, static_cast<double*>(dst), dst_len, width,
        total, scale, hermitian_n);
  else
    resize_rows_kernel<float><<<unsigned(blocks), threads, 0, stream()>>>(
        static_cast<const float*>(src), src_len, static_cast<float*>(dst), dst_len, width, total,
        float(scale), hermitian_n);
  check_launch("fft: resize_rows");
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Device scratch from the caching allocator, returned when the call ends (stream-ordered).
struct Scratch {
  void* p = nullptr;
  int device = 0;
  Scratch(size_t bytes, int dev) : device(dev) {
    if (bytes) p = alloc(bytes, dev);
  }
  ~Scratch() {
    if (p) dealloc(p, device);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

}  // namespace

void fft_rows(const FftCall& c) {
  if (c.rows == 0) return;
  SSM_CHECK(cudaSetDevice(c.device) == cudaSuccess, "fft: cannot select cuda:", c.device);
  const int64_t F = c.n / 2 + 1;
  const int64_t t_in = c.type == FftType::c2r ? F : c.n;   // transform input elements per row
  const int64_t t_out = c.type == FftType::r2c ? F : c.n;  // and output
  const int w_in = c.type == FftType::r2c ? 1 : 2, w_out = c.type == FftType::c2r ? 1 : 2;
  const size_t es = c.dtype == DType::f64 ? 8 : 4;

  // cuFFT wants complex values aligned to their size; a view may start anywhere.
  bool copy_in = c.type == FftType::c2r || c.in_len != t_in || !aligned(c.x, 2 * es);
  Scratch in_buf(copy_in ? size_t(c.rows * t_in * w_in) * es : 0, c.device);
  const void* src = c.x;
  if (copy_in) {
    resize_rows(c, c.x, c.in_len, in_buf.p, t_in, w_in, 1.0, c.type == FftType::c2r ? c.n : 0);
    src = in_buf.p;
  }
  bool direct_out = c.out_len == t_out && aligned(c.y, 2 * es);
  Scratch out_buf(direct_out ? 0 : size_t(c.rows * t_out * w_out) * es, c.device);
  void* dst = direct_out ? c.y : out_buf.p;

  std::shared_ptr<Plan> plan = plan_for(c);
  Scratch work(plan->work, c.device);
  {
    std::lock_guard<std::mutex> lock(plan->mu);
    ck(cufftSetStream(plan->handle, stream()), "cufftSetStream", c);
    ck(cufftSetWorkArea(plan->handle, work.p), "cufftSetWorkArea", c);
    void* in = const_cast<void*>(src);  // out of place: R2C and C2C leave it as it is
    int dir = c.inverse ? CUFFT_INVERSE : CUFFT_FORWARD;
    bool d = c.dtype == DType::f64;
    switch (c.type) {
      case FftType::r2c:
        ck(d ? cufftExecD2Z(plan->handle, static_cast<cufftDoubleReal*>(in), static_cast<cufftDoubleComplex*>(dst))
             : cufftExecR2C(plan->handle, static_cast<cufftReal*>(in), static_cast<cufftComplex*>(dst)),
           "R2C", c);
        break;
      case FftType::c2r:
        ck(d ? cufftExecZ2D(plan->handle, static_cast<cufftDoubleComplex*>(in), static_cast<cufftDoubleReal*>(dst))
             : cufftExecC2R(plan->handle, static_cast<cufftComplex*>(in), static_cast<cufftReal*>(dst)),
           "C2R", c);
        break;
      case FftType::c2c:
        ck(d ? cufftExecZ2Z(plan->handle, static_cast<cufftDoubleComplex*>(in), static_cast<cufftDoubleComplex*>(dst), dir)
             : cufftExecC2C(plan->handle, static_cast<cufftComplex*>(in), static_cast<cufftComplex*>(dst), dir),
           "C2C", c);
        break;
    }
  }
  if (!direct_out)
    resize_rows(c, dst, t_out, c.y, c.out_len, w_out, c.scale, 0);
  else if (c.scale != 1.0)
    resize_rows(c, c.y, t_out, c.y, t_out, w_out, c.scale, 0);
}

int64_t fft_cached_plans() {
  PlanCache& pc = plan_cache();
  std::lock_guard<std::mutex> lock(pc.mu);
  return int64_t(pc.plans.size());
}

}  // namespace ssm::cuda
