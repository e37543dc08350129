"""Clipped heavy-ball SGD sweep: one batched steplab call vs a fused loop vs one chain at a time.

Noisy quadratic in d = 100 (eigenvalues log-spaced in [0.01, 1], Gaussian gradient noise sigma = 1),
12 configurations (3 step sizes x 2 momenta x 2 clip thresholds) x 256 chains x 2000 steps, float32:

(a) ``steplab.trajectory.run`` through ``chain(clip_by_norm, heavy_ball, scale)`` with per-run tensors;
(b) the same update hand-written as one fused in-place torch loop over the same [3072 x 100] tensors;
(c) a student's loop: one chain at a time with ``torch.optim.SGD`` + ``clip_grad_norm_``
    (timed on a subset of chains and scaled linearly to all 3072).

GPU rows (only when CUDA is present; written to their own section of docs/benchmarks.md): (a) against (c) on
cuda for the same 3072 runs and for 10^6 runs (1 config x 10^6 chains of the same quadratic), (c) timed on
``--gpu-student-chains`` chains and scaled linearly. Target: (c)/(a) >= 1000x on a GPU.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_sweep.py [--steps 2000] [--student-chains 32]
[--gpu-only] [--gpu-runs 3072 1000000]`` (``make gpu-check`` runs ``--gpu-only``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section  # noqa: E402

from steplab.device import describe_device  # noqa: E402
from steplab.problems import GaussianNoise, Noisy, Quadratic  # noqa: E402
from steplab.trajectory import run  # noqa: E402
from steplab.transforms import chain, clip_by_norm, heavy_ball, scale  # noqa: E402

DIM, CHAINS = 100, 256
LRS, BETAS, CLIPS = (0.05, 0.1, 0.5), (0.5, 0.9), (1.0, 10.0)


def configs(device, dtype, runs: int | None = None):
    """Per-run (lr, beta, clip): the 12 configurations x 256 chains, or ``runs`` chains spread over them."""
    grid = torch.cartesian_prod(torch.tensor(LRS), torch.tensor(BETAS), torch.tensor(CLIPS)).to(device, dtype)
    chains = CHAINS if runs is None else -(-runs // grid.shape[0])
    per_run = grid.repeat_interleave(chains, dim=0)[:runs]  # [12 * chains, 3], cut to ``runs``
    return per_run[:, 0], per_run[:, 1], per_run[:, 2]


def problem(device, dtype):
    eigenvalues = torch.logspace(-2, 0, DIM, dtype=dtype, device=device)
    return Noisy(Quadratic(eigenvalues, dtype=dtype, device=device), GaussianNoise(1.0))


def batched(steps, device, dtype, runs: int | None = None):
    lr, beta, clip = configs(device, dtype, runs)
    x0 = torch.ones(lr.numel(), DIM, dtype=dtype, device=device)
    traj = run(problem(device, dtype), chain(clip_by_norm(clip), heavy_ball(beta), scale(lr)), x0, steps,
               seed=0, record_every=None)
    return traj.final


def fused(steps, device, dtype):
    lr, beta, clip = (t[:, None] for t in configs(device, dtype))
    matrix = problem(device, dtype).base.matrix
    generator = torch.Generator(device=device).manual_seed(0)
    x = torch.ones(lr.shape[0], DIM, dtype=dtype, device=device)
    velocity, grad, factor = torch.zeros_like(x), torch.empty_like(x), torch.empty_like(lr)
    for _ in range(steps):
        torch.matmul(x, matrix, out=grad)
        grad.add_(torch.randn(grad.shape, generator=generator, dtype=dtype, device=device))
        torch.linalg.vector_norm(grad, dim=1, keepdim=True, out=factor)
        torch.div(clip, factor.clamp_(min=1e-30), out=factor).clamp_(max=1.0)
        velocity.mul_(beta).addcmul_(grad, factor)
        x.addcmul_(velocity, lr, value=-1.0)
    return x


def student(steps, chains, device, dtype, runs: int | None = None):
    lr, beta, clip = configs(device, dtype, runs)
    matrix = problem(device, dtype).base.matrix
    generator = torch.Generator(device=device).manual_seed(0)
    picks = torch.linspace(0, lr.numel() - 1, chains).long().tolist()
    for i in picks:
        x = torch.nn.Parameter(torch.ones(DIM, dtype=dtype, device=device))
        opt = torch.optim.SGD([x], lr=float(lr[i]), momentum=float(beta[i]))
        for _ in range(steps):
            opt.zero_grad()
            x.grad = x.detach() @ matrix + torch.randn(DIM, generator=generator, dtype=dtype, device=device)
            torch.nn.utils.clip_grad_norm_([x], float(clip[i]))
            opt.step()


def timed(fn, *args, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def gpu_rows(steps: int, runs_list, student_chains: int, device: torch.device | str = "cuda") -> str:
    """(a) and (c) on ``device`` for each number of runs in ``runs_list``: the table of the GPU section."""
    device, dtype = torch.device(device), torch.float32
    rows = [f"Clipped heavy-ball SGD, noisy quadratic d={DIM}, {steps} steps, float32, on {describe_device(device)}; "
            f"(c) timed on {student_chains} chains and scaled linearly.", f"Machine: {machine()}.", "",
            "| runs | (a) batched `trajectory.run` (s) | (c) one chain at a time, scaled (s) | (c)/(a) |",
            "| --- | --- | --- | --- |"]
    for runs in runs_list:
        batched(10, device, dtype, runs), student(2, 1, device, dtype, runs)  # warm-up (kernels, allocations)
        t_batched = min(timed(batched, steps, device, dtype, runs, device=device) for _ in range(2))
        t_student = timed(student, steps, student_chains, device, dtype, runs, device=device) * runs / student_chains
        rows.append(f"| {runs:,} | {t_batched:.2f} | {t_student:.3g} | **{t_student / t_batched:.0f}x** |")
        if device.type == "cuda":
            torch.cuda.empty_cache()
    rows += ["", "Target: (c)/(a) >= 1000x on a GPU."]
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--student-chains", type=int, default=32)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU rows (make gpu-check)")
    parser.add_argument("--gpu-runs", type=int, nargs="+", default=[3072, 1_000_000])
    parser.add_argument("--gpu-student-chains", type=int, default=8)
    args = parser.parse_args(argv)
    if torch.cuda.is_available():
        text = gpu_rows(args.steps, args.gpu_runs, args.gpu_student_chains)
        print(text)
        if not args.no_write:
            write_section("sweep-gpu", "## Batched sweep on a GPU (`benchmarks/bench_sweep.py`)\n\n" + text)
    else:
        print("GPU rows skipped: CUDA is not available on this machine (docs/benchmarks.md keeps its GPU section).")
    if args.gpu_only:
        return 0
    device, dtype = torch.device("cpu"), torch.float32
    runs = len(LRS) * len(BETAS) * len(CLIPS) * CHAINS
    batched(20, device, dtype), fused(20, device, dtype)  # warm-up
    t_batched = min(timed(batched, args.steps, device, dtype, device=device) for _ in range(2))
    t_fused = min(timed(fused, args.steps, device, dtype, device=device) for _ in range(2))
    t_student_part = timed(student, args.steps, args.student_chains, device, dtype, device=device)
    t_student = t_student_part * runs / args.student_chains
    rows = [
        f"Clipped heavy-ball SGD, noisy quadratic d={DIM}, {runs} runs (12 configs x {CHAINS} chains) x "
        f"{args.steps} steps, float32, on {describe_device(device)}.",
        f"Machine: {machine()}.",
        "",
        "| variant | time (s) |",
        "| --- | --- |",
        f"| (a) batched `steplab.trajectory.run` | {t_batched:.2f} |",
        f"| (b) hand-fused in-place torch loop | {t_fused:.2f} |",
        f"| (c) one chain at a time, torch.optim.SGD + clip_grad_norm_ (timed {args.student_chains} chains, "
        f"scaled x{runs / args.student_chains:.0f}) | {t_student:.1f} |",
        "",
        f"Ratios: (c)/(a) = **{t_student / t_batched:.0f}x** (target >= 100x); "
        f"(a)/(b) = **{t_batched / t_fused:.2f}** (target <= 1.5).",
    ]
    text = "\n".join(rows)
    print(text)
    if not args.no_write:
        write_section("sweep-cpu", "## Batched sweep (`benchmarks/bench_sweep.py`)\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
