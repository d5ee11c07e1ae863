// selective_scan's CUDA kernel table: Tensors to the plain launch structs of
// ops/cuda/selective_scan_cuda.h. Inputs go to the kernels as they are (any floating dtype, any
// strides); the `algorithm` option does not apply: the one GPU kernel scans time sequentially
// inside each thread and gets its parallelism from batch, channels and state slices.
#include "ops/cuda/selective_scan_cuda.h"
#include "ops/dispatch.h"
#include "ops/selective_scan.h"

namespace ssm {
namespace {

cuda::ScanArg scan_arg(const Tensor& t) {
  cuda::ScanArg a;
  if (!t.defined()) return a;
  a.p = t.raw_data();
  a.dtype = t.dtype();
  for (int i = 0; i < t.dim() && i < 3; ++i) a.s[i] = t.stride(i);
  return a;
}

cuda::ScanProblem scan_problem(const SelectiveScanArgs& a) {
  const SelectiveScanOptions& opt = a.opt;
  cuda::ScanProblem p;
  p.device = a.u.device().index;
  p.B = a.u.size(0);
  p.L = a.u.size(1);
  p.D = a.u.size(2);
  p.N = a.A.size(1);
  p.chunk = opt.chunk;
  p.f64 = compute_dtype(a.u.dtype()) == DType::f64;
  switch (opt.discretization) {
    case Discretization::zoh: p.discretization = 0; break;
    case Discretization::zoh_exact: p.discretization = 1; break;
    case Discretization::bilinear: p.discretization = 2; p.alpha = 0.5; break;
    case Discretization::generalized_bilinear: p.discretization = 2; p.alpha = opt.alpha; break;
  }
  p.softplus = opt.delta_softplus;
  p.u = scan_arg(a.u);
  p.delta = scan_arg(a.delta);
  p.A = scan_arg(a.A);
  p.Bm = scan_arg(a.Bm);
  p.Cm = scan_arg(a.Cm);
  p.Dskip = scan_arg(a.Dskip);
  p.z = scan_arg(a.z);
  p.bias = scan_arg(a.delta_bias);
  p.seq_start =
      a.seq_start.defined() ? static_cast<const int32_t*>(a.seq_start.raw_data()) : nullptr;
  return p;
}

// Kept for the backward: the inputs as given, then the states (only when kept), then seq_start.
Tensor forward(const SelectiveScanArgs& a, Tensor* final_state, std::vector<Tensor>* keep) {
  Device dev = a.u.device();
  DType cdt = compute_dtype(a.u.dtype());
  cuda::ScanProblem prob = scan_problem(a);
  Tensor out = Tensor::empty({prob.B, prob.L, prob.D}, a.u.dtype(), dev);
  Tensor states = keep ? Tensor::empty({prob.B, cuda::scan_chunks(prob), prob.N, prob.D}, cdt, dev)
                       : Tensor();
  Tensor fin = final_state ? Tensor::empty({prob.B, prob.D, prob.N}, cdt, dev) : Tensor();
  cuda::ScanForward f;
  f.out = out.raw_data();
  f.out_dtype = out.dtype();
  f.states = states.defined() ? states.raw_data() : nullptr;
  f.final_state = fin.defined() ? fin.raw_data() : nullptr;
  cuda::selective_scan_forward(prob, f);
  if (final_state) *final_state = fin;
  if (keep)
    *keep = {a.u, a.delta, a.A, a.Bm, a.Cm, a.Dskip, a.z, a.delta_bias, states, a.seq_start};
  return out;
}

// Gradients written by the kernels in the inputs' own dtypes.
void backward(std::span<const Tensor> kept, const SelectiveScanOptions& opt, const Tensor& gout,
              const bool (&want)[8], Tensor (&grads)[8]) {
  const SelectiveScanArgs a{kept[0], kept[1], kept[2], kept[3], kept[4],
                            kept[5], kept[6], kept[7], kept[9], opt};
  const Tensor& st = kept[8];
  SSM_CHECK(gout.device() == a.u.device() && is_floating(gout.dtype()),
            "selective_scan backward: the gradient of the output must be a floating tensor on ",
            a.u.device(), ", got ", describe(gout));
  cuda::ScanProblem p = scan_problem(a);
  cuda::ScanBackward b;
  b.states = st.raw_data();
  b.gout = scan_arg(gout);
  const Tensor* in[8] = {&a.u, &a.delta, &a.A, &a.Bm, &a.Cm, &a.Dskip, &a.z, &a.delta_bias};
  cuda::ScanGrad* slots[8] = {&b.du, &b.ddelta, &b.dA, &b.dB, &b.dC, &b.dD, &b.dz, &b.dbias};
  for (size_t i = 0; i < 8; ++i) {
    if (!want[i] || !in[i]->defined()) continue;
    grads[i] = Tensor::empty(in[i]->shape(), in[i]->dtype(), in[i]->device());
    slots[i]->p = grads[i].raw_data();
    slots[i]->dtype = grads[i].dtype();
  }
  cuda::selective_scan_backward(p, b);
}

Tensor step(Tensor& state, const SelectiveScanArgs& a) {
  Tensor y = Tensor::empty({a.u.size(0), a.u.size(2)}, a.u.dtype(), a.u.device());
  cuda::selective_scan_step(scan_problem(a), state.raw_data(), y.raw_data(), y.dtype());
  return y;
}

const SelectiveScanKernels kCudaKernels = {floating_dtypes, forward, backward, step};
SSM_REGISTER_KERNELS(SelectiveScanKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
