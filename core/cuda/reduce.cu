// The CUDA reduction engine; the plan is in core/cuda/reduce.h.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/reduce.h"
#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;

template <class A>
__device__ __forceinline__ bool is_nan(A v) {
  if constexpr (std::is_floating_point_v<A>)
    return v != v;
  else
    return false;
}

// ---- the reductions: state, push, combine, finish -----------------------------------------

template <class T>
struct SumOp {
  using State = double;
  T* out;
  __device__ State init() const { return 0.0; }
  __device__ void push(State& s, T v, int64_t) const { s += double(Scalar<T>::load(v)); }
  __device__ void combine(State& s, const State& b) const { s += b; }
  __device__ void finish(int64_t a, const State& s) const {
    out[a] = Scalar<T>::store(acc_t<T>(s));
  }
};

template <class T, bool Max>
struct ExtremeOp {
  using Acc = acc_t<T>;
  struct State {
    Acc v;
    int64_t i;  // -1: no element yet
  };
  T* out;
  int64_t* idx;
  __device__ static bool better(Acc v, Acc best) {
    if (is_nan(v)) return !is_nan(best);
    return Max ? v > best : v < best;
  }
  __device__ State init() const { return State{Acc(0), -1}; }
  __device__ void push(State& s, T x, int64_t r) const {
    Acc v = Scalar<T>::load(x);
    if (s.i < 0 || better(v, s.v)) s = State{v, r};
  }
  // The first extreme element wins whatever the order the states come in.
  __device__ void combine(State& s, const State& b) const {
    if (b.i < 0) return;
    if (s.i < 0 || better(b.v, s.v) || (!better(s.v, b.v) && b.i < s.i)) s = b;
  }
  __device__ void finish(int64_t a, const State& s) const {
    if (out) out[a] = Scalar<T>::store(s.v);
    if (idx) idx[a] = s.i;
  }
};

template <class T>
struct VarOp {
  struct State {
    double n, mean, m2;
  };
  T* out;
  acc_t<T>* mean;
  double correction;
  __device__ State init() const { return State{0, 0, 0}; }
  __device__ void push(State& s, T x, int64_t) const {  // Welford
    double v = double(Scalar<T>::load(x));
    s.n += 1;
    double d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
  }
  __device__ void combine(State& s, const State& b) const {  // Chan et al.
    if (b.n == 0) return;
    if (s.n == 0) {
      s = b;
      return;
    }
    double n = s.n + b.n, delta = b.mean - s.mean;
    s.m2 += b.m2 + delta * delta * s.n * b.n / n;
    s.mean += delta * b.n / n;
    s.n = n;
  }
  __device__ void finish(int64_t a, const State& s) const {
    double den = s.n - correction;
    out[a] = Scalar<T>::store(acc_t<T>(s.m2 / (den > 0 ? den : 0.0)));
    if (mean) mean[a] = acc_t<T>(s.n > 0 ? s.mean : 0.0 / 0.0);
  }
};

// sum of exp(x - shift(m)), m = the running max, shift(m) = m when finite, else 0 (so that -inf
// and +inf sets give -inf and +inf instead of NaN, as the CPU).
template <class T>
struct LseOp {
  struct State {
    double m, s;
  };
  T* out;
  acc_t<T>* lse;
  __device__ static double shift(double m) { return isfinite(m) ? m : 0.0; }
  __device__ State init() const { return State{-INFINITY, 0.0}; }
  __device__ void push(State& st, T x, int64_t) const {
    double v = double(Scalar<T>::load(x));
    if (v > st.m) {
      if (st.s != 0) st.s *= exp(shift(st.m) - shift(v));
      st.m = v;
    }
    st.s += exp(v - shift(st.m));
  }
  __device__ void combine(State& a, const State& b) const {
    if (b.s == 0) return;  // nothing but -inf
    if (a.s == 0) {
      a = b;
      return;
    }
    double m = a.m > b.m ? a.m : b.m;
    a.s = a.s * exp(shift(a.m) - shift(m)) + b.s * exp(shift(b.m) - shift(m));
    a.m = m;
  }
  __device__ void finish(int64_t a, const State& st) const {
    double v = shift(st.m) + log(st.s);
    out[a] = Scalar<T>::store(acc_t<T>(v));
    if (lse) lse[a] = acc_t<T>(v);
  }
};

// ---- the kernels ----------------------------------------------------------------------------

struct Geometry {
  Layout<1> kept, red;
  int64_t A, R, chunk;  // chunk: reduced elements per partial (grid y)
  int lanes;            // threads per result
  bool column;          // results along threadIdx.x (column sums), lanes along threadIdx.y
};

__device__ __forceinline__ int64_t offset_in(const Layout<1>& L, int64_t i) {
  if (L.ndim == 1) return i * L.strides[0][0];
  int64_t off[1];
  offsets_of<int64_t, 1>(L, i, off);
  return off[0];
}

template <class T, class Op>
__global__ void __launch_bounds__(kThreads)
    reduce_kernel(Geometry g, const T* __restrict__ x, Op op, typename Op::State* partial) {
  using State = typename Op::State;
  __shared__ State st[kThreads];
  int lanes = g.lanes, outs = kThreads / lanes;
  int lane = g.column ? threadIdx.y : threadIdx.x;
  int o = g.column ? threadIdx.x : threadIdx.y;
  int slot = o * lanes + lane;
  int64_t a = int64_t(blockIdx.x) * outs + o;
  int64_t r0 = int64_t(blockIdx.y) * g.chunk;
  int64_t r1 = r0 + g.chunk < g.R ? r0 + g.chunk : g.R;
  State s = op.init();
  if (a < g.A) {
    const T* base = x + offset_in(g.kept, a);
    if (g.red.ndim <= 1) {
      int64_t rs = g.red.ndim ? g.red.strides[0][0] : 0;
      for (int64_t r = r0 + lane; r < r1; r += lanes) op.push(s, base[r * rs], r);
    } else {
      for (int64_t r = r0 + lane; r < r1; r += lanes) op.push(s, base[offset_in(g.red, r)], r);
    }
  }
  st[slot] = s;
  __syncthreads();
  for (int w = lanes / 2; w > 0; w /= 2) {
    if (lane < w) op.combine(st[slot], st[slot + w]);
    __syncthreads();
  }
  if (lane == 0 && a < g.A) {
    if (gridDim.y == 1)
      op.finish(a, st[slot]);
    else
      partial[a * gridDim.y + blockIdx.y] = st[slot];
  }
}

template <class Op>
__global__ void finish_kernel(int64_t A, int P, Op op, const typename Op::State* partial) {
  int64_t a = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (a >= A) return;
  typename Op::State s = partial[a * P];
  for (int k = 1; k < P; ++k) op.combine(s, partial[a * P + k]);
  op.finish(a, s);
}

int pow2_at_least(int64_t n, int cap) {
  int p = 1;
  while (p < n && p < cap) p *= 2;
  return p;
}

template <class T, class Op>
void run(const ReduceProblem& p, const Op& op) {
  Geometry g;
  g.A = p.kept.numel();
  g.R = p.red.numel();
  if (g.A == 0) return;
  Arg k, r;
  for (int d = 0; d < kDims; ++d) {
    k.strides[d] = p.kept_strides[d];
    r.strides[d] = p.red_strides[d];
  }
  const Arg* ka[1] = {&k};
  const Arg* ra[1] = {&r};
  g.kept = coalesce<1>(p.kept, ka);
  g.red = coalesce<1>(p.red, ra);
  bool red_unit = g.red.ndim == 0 || g.red.strides[0][g.red.ndim - 1] == 1;
  bool kept_unit = g.kept.ndim > 0 && g.kept.strides[0][g.kept.ndim - 1] == 1;
  g.column = !red_unit && kept_unit;
  if (g.column)
    g.lanes = 8;
  else
    g.lanes = g.R >= 2048 ? kThreads : pow2_at_least(g.R, 32);
  int outs = kThreads / g.lanes;
  int64_t bx = (g.A + outs - 1) / outs;
  // Few results with long reductions: cut each into chunks so that every SM has work.
  int64_t P = 1;
  if (bx < 1024) {
    int64_t want = (1024 + bx - 1) / bx;
    int64_t most = g.R / (int64_t(g.lanes) * 64);
    P = want < most ? want : most;
    if (P > 65535) P = 65535;
    if (P < 1) P = 1;
  }
  g.chunk = (g.R + P - 1) / P;
  if (g.chunk < 1) g.chunk = 1;
  P = (g.R + g.chunk - 1) / g.chunk;
  if (P < 1) P = 1;
  dim3 block = g.column ? dim3(outs, g.lanes) : dim3(g.lanes, outs);
  dim3 grid{unsigned(bx), unsigned(P), 1};
  using State = typename Op::State;
  State* partial = nullptr;
  int dev = 0;
  cudaGetDevice(&dev);
  if (P > 1) partial = static_cast<State*>(alloc(size_t(g.A * P) * sizeof(State), dev));
  reduce_kernel<T, Op><<<grid, block, 0, ::ssm::cuda::stream()>>>(g, static_cast<const T*>(p.x), op, partial);
  check_launch("reduce");
  if (P > 1) {
    finish_kernel<Op><<<unsigned((g.A + 255) / 256), 256, 0, ::ssm::cuda::stream()>>>(g.A, int(P), op, partial);
    check_launch("reduce (combine)");
    dealloc(partial, dev);  // same stream: a later user of the block runs after these kernels
  }
}

}  // namespace

void reduce(Reduce op, const ReduceProblem& p) {
  switch (op) {
    case Reduce::sum:
      SSM_CHECK(is_floating(p.dtype) || p.dtype == DType::i64, "sum: CUDA kernel expects a floating "
                "or int64 tensor, got ", p.dtype);
      if (p.dtype == DType::i64) {
        run<int64_t>(p, SumOp<int64_t>{static_cast<int64_t*>(p.out)});
        return;
      }
      SSM_DISPATCH_FLOAT(p.dtype, "sum", [&] {
        run<scalar_t>(p, SumOp<scalar_t>{static_cast<scalar_t*>(p.out)});
      });
      return;
    case Reduce::max:
    case Reduce::min:
      SSM_DISPATCH_ALL(p.dtype, op == Reduce::max ? "max" : "min", [&] {
        if (op == Reduce::max)
          run<scalar_t>(p, ExtremeOp<scalar_t, true>{static_cast<scalar_t*>(p.out),
                                                     static_cast<int64_t*>(p.aux)});
        else
          run<scalar_t>(p, ExtremeOp<scalar_t, false>{static_cast<scalar_t*>(p.out),
                                                      static_cast<int64_t*>(p.aux)});
      });
      return;
    case Reduce::var:
      SSM_DISPATCH_FLOAT(p.dtype, "var", [&] {
        run<scalar_t>(p, VarOp<scalar_t>{static_cast<scalar_t*>(p.out),
                                         static_cast<acc_t<scalar_t>*>(p.aux), p.correction});
      });
      return;
    case Reduce::logsumexp:
      SSM_DISPATCH_FLOAT(p.dtype, "logsumexp", [&] {
        run<scalar_t>(p, LseOp<scalar_t>{static_cast<scalar_t*>(p.out),
                                         static_cast<acc_t<scalar_t>*>(p.aux)});
      });
      return;
  }
}

}  // namespace ssm::cuda
