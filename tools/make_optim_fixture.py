#!/usr/bin/python3
"""PyTorch reference for the optimizer and the learning-rate schedules (tests/train/optim_test.cpp).

    /usr/bin/python3 tools/make_optim_fixture.py      # writes tests/fixtures/train/optim.safetensors

torch.optim.AdamW with two parameter groups (weight decay 0.1 and 0; the second at twice the
learning rate), torch.nn.utils.clip_grad_norm_ before every step, the learning rate set each step
from torch's own schedulers (warmup: LinearLR; then CosineAnnealingLR or LinearLR, chained with
SequentialLR), all in float64. Stored: the initial parameters, every step's gradients, the
parameters after every step, the pre-clip norms, the multipliers of the cosine and linear
schedules, and ReduceLROnPlateau's learning rate after each of a series of metrics.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "train", "optim.safetensors")
STEPS, WARMUP, MIN_RATIO, BASE_LR, MAX_NORM = 9, 3, 0.1, 0.05, 0.5
BETAS, EPS = (0.9, 0.95), 1e-8
SHAPES = {"w0": (4, 3), "w1": (5,), "w2": (2, 2)}  # w0, w2: decay group; w1: no-decay group, lr x2


def multipliers(kind):
    """The schedule's multiplier for each step, read off torch's schedulers."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / WARMUP, end_factor=1.0,
                                             total_iters=WARMUP - 1)
    if kind == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS - WARMUP, eta_min=MIN_RATIO)
    else:
        main = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=MIN_RATIO,
                                                 total_iters=STEPS - WARMUP)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, main], milestones=[WARMUP])
    out = []
    for _ in range(STEPS):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(out, dtype=torch.float64)


def plateau(metrics):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2,
                                                       threshold=1e-4, min_lr=MIN_RATIO)
    out = []
    for m in metrics.tolist():
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return torch.tensor(out, dtype=torch.float64)


def main():
    g = torch.Generator().manual_seed(0)
    params = {k: torch.randn(s, generator=g, dtype=torch.float64) for k, s in SHAPES.items()}
    t = {f"init.{k}": v.clone() for k, v in params.items()}
    ps = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    opt = torch.optim.AdamW([{"params": [ps["w0"], ps["w2"]], "weight_decay": 0.1},
                             {"params": [ps["w1"]], "weight_decay": 0.0}],
                            lr=BASE_LR, betas=BETAS, eps=EPS)
    cosine = multipliers("cosine")
    norms = []
    for step in range(STEPS):
        for k, p in ps.items():
            p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64) * (0.2 + step)
            t[f"step{step}.grad.{k}"] = p.grad.clone()
        norms.append(torch.nn.utils.clip_grad_norm_(list(ps.values()), MAX_NORM).item())
        opt.param_groups[0]["lr"] = BASE_LR * cosine[step].item()
        opt.param_groups[1]["lr"] = 2 * BASE_LR * cosine[step].item()
        opt.step()
        for k, p in ps.items():
            t[f"step{step}.param.{k}"] = p.detach().clone()
    t["clip_norms"] = torch.tensor(norms, dtype=torch.float64)
    t["cosine"] = cosine
    t["linear"] = multipliers("linear")
    metrics = torch.tensor([5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0,
                            3.0, 3.0, 3.0, 3.0, 2.0], dtype=torch.float64)
    t["plateau.metrics"] = metrics
    t["plateau.lr"] = plateau(metrics)
    meta = {"config": json.dumps({"steps": STEPS, "warmup": WARMUP, "min_lr_ratio": MIN_RATIO,
                                  "base_lr": BASE_LR, "max_norm": MAX_NORM, "betas": BETAS, "eps": EPS}),
            "generator": "tools/make_optim_fixture.py", "torch": torch.__version__}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, t, meta)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
