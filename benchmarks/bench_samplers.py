"""Our DDIM, PLMS4 and DPM-Solver++ vs diffusers' scheduler loops on the same analytic ε (batch 4096 × d = 64, N = 20).

Both sides get the same class-conditional GMM ε with guidance w = 15 (float32). diffusers works in
x_t, so its model is ``crosscheck.vp_epsilon`` (one extra scaling of x per call); ours works in x̄ on the
same σ grid (``crosscheck.matching_sigmas``). Timed: diffusers ``set_timesteps`` + its loop; ours ``sample``.
PNDM takes N + 1 model calls (Heun start): we time our PLMS4 both with its usual 1-NFE warm-up and with
the matching Heun start. Best of ``--repeats`` interleaved runs after one warm-up run (a busy machine
only ever adds time). Target: ours <= 1.2x diffusers.

Second table: the runtime overhead of momentum (Wizadwongsa et al. 2024, Table 9 reports it negligible next to
a network): HB, Nesterov and GHVB against PLMS4, DPM-Solver++ with HB against DPM-Solver++, same ε, batch and
N, each pair timed interleaved; plus the N ε evaluations alone, to show how much of a step the sampler is.

GPU rows (only when CUDA is present, in their own section ``samplers-gpu``): the same tables on cuda at batch 4096,
and the first table at batch 10^6 (``--gpu-large``), where a GPU's width pays. On a CPU-only machine the script says
that it skipped them. ``--gpu-only`` (``make gpu-check``) skips the CPU tables.

    python benchmarks/bench_samplers.py [--device cpu|cuda] [--repeats 15] [--no-write] [--markdown-out FILE]
                                        [--gpu-only] [--gpu-large 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section  # noqa: E402

from steplab.diffusion import crosscheck, gmm  # noqa: E402
from steplab.diffusion.samplers import sample  # noqa: E402

BATCH, DIM, CLASSES, STEPS, GUIDANCE = 4096, 64, 10, 20, 15.0
ROWS = (("DDIM", "ddim", {}), ("PLMS4", "plms4", {}), ("PLMS4, Heun start", "plms4", {"warmup": "heun"}),
        ("DPM-Solver++(2M)", "dpm++", {}))


def _once(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _timed_pair(first, second, device: torch.device, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` times of two functions, run interleaved so that machine load hits both alike."""
    first(), second()
    times = [(_once(first, device), _once(second, device)) for _ in range(repeats)]
    return min(t[0] for t in times), min(t[1] for t in times)


LARGE_ROWS = tuple(row for row in ROWS if row[0] != "PLMS4")  # the like-for-like rows only


def run(device: torch.device, repeats: int, batch: int = BATCH, rows_to_time=ROWS) -> list[dict]:
    model = gmm.random_gmm(CLASSES, DIM, seed=0)
    x_T = gmm.noise(batch, DIM, seed=1, dtype=torch.float32, device=device)
    labels = gmm.balanced_labels(batch, CLASSES, device=device)
    eps = model.eps_fn(labels, GUIDANCE)
    rows = []
    for label, method, options in rows_to_time:
        scheduler = crosscheck.make_scheduler(method, STEPS)
        alpha_bar = scheduler.alphas_cumprod.to(device=device, dtype=torch.float64)
        diffusers_model = crosscheck.vp_epsilon(eps, alpha_bar)
        sigmas = crosscheck.matching_sigmas(method, scheduler).to(device)

        def theirs(scheduler=scheduler, diffusers_model=diffusers_model):
            scheduler.set_timesteps(STEPS, device=device)
            return crosscheck.diffusers_sample(scheduler, diffusers_model, x_T)

        def ours(method=method, sigmas=sigmas, options=options):
            return sample(eps, method, len(sigmas) - 1, x_T=x_T, sigmas=sigmas, **options)

        t_ours, t_theirs = _timed_pair(ours, theirs, device, repeats)
        same = options.get("warmup") == "heun" or method != "plms4"
        agree = float((ours() - theirs()).abs().max()) if same else float("nan")
        nfe = len(scheduler.timesteps) if same else STEPS
        rows.append({"method": label, "nfe": nfe, "ours": t_ours, "theirs": t_theirs, "agree": agree})
    return rows


OVERHEAD_PAIRS = (("plms4", "hb3.8"), ("plms4", "nt3.8"), ("plms4", "ghvb3.8"), ("dpm++", "dpm++hb0.8"))


def run_overhead(device: torch.device, repeats: int) -> list[dict]:
    """Time each momentum sampler against its base method at the same N (interleaved best-of-``repeats``)."""
    model = gmm.random_gmm(CLASSES, DIM, seed=0)
    x_T = gmm.noise(BATCH, DIM, seed=1, dtype=torch.float32, device=device)
    labels = gmm.balanced_labels(BATCH, CLASSES, device=device)
    eps = model.eps_fn(labels, GUIDANCE)
    sigma = torch.tensor(1.0, dtype=torch.float32, device=device)

    def eps_only():
        for _ in range(STEPS):
            eps(x_T, sigma)

    rows = []
    t_eps = min(_timed_pair(eps_only, eps_only, device, repeats))
    for base, momentum in OVERHEAD_PAIRS:
        t_base, t_momentum = _timed_pair(lambda m=base: sample(eps, m, STEPS, x_T=x_T),
                                         lambda m=momentum: sample(eps, m, STEPS, x_T=x_T), device, repeats)
        rows.append({"base": base, "momentum": momentum, "t_base": t_base, "t_momentum": t_momentum, "t_eps": t_eps})
    return rows


def overhead_markdown(rows: list[dict], device: torch.device) -> str:
    lines = [f"### Momentum overhead on {device.type}: batch {BATCH} × d = {DIM}, N = {STEPS} (float32)", "",
             "| base | with momentum | base (ms) | momentum (ms) | momentum / base | N ε calls alone (ms) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['base']} | {r['momentum']} | {1e3 * r['t_base']:.1f} | {1e3 * r['t_momentum']:.1f} | "
                     f"{r['t_momentum'] / r['t_base']:.2f} | {1e3 * r['t_eps']:.1f} |")
    lines += ["", f"Machine: {machine()}; best of the interleaved timed runs after one warm-up. Same ε, NFE = N "
              "for every sampler. The analytic ε is cheap (a 10-class mixture), so the sampler's vector updates are "
              "a visible part of a step here; next to a network's ε the paper finds the overhead negligible "
              "(Wizadwongsa et al. 2024, Table 9). On a loaded shared machine the ratios move by about ±0.2 between "
              "runs (a ratio below 1 is noise: the momentum sampler does strictly more work)."]
    return "\n".join(lines)


def _fmt(value: float, spec: str) -> str:
    return "–" if value != value else format(value, spec)


def markdown(rows: list[dict], device: torch.device, batch: int = BATCH) -> str:
    lines = [f"### Samplers on {device.type}: batch {batch:,} × d = {DIM}, N = {STEPS}, guided GMM ε (float32)", "",
             "| method | NFE | ours (ms) | diffusers (ms) | ours / diffusers | max abs diff |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["ours"] / r["theirs"] if r["theirs"] == r["theirs"] else float("nan")
        lines.append(f"| {r['method']} | {r['nfe']} | {1e3 * r['ours']:.1f} | {_fmt(1e3 * r['theirs'], '.1f')} | "
                     f"{_fmt(ratio, '.2f')} | {_fmt(r['agree'], '.1e')} |")
    lines += ["", f"Machine: {machine()}; best of the interleaved timed runs after one warm-up. "
              "PLMS4 with its usual warm-up makes one model call fewer than PNDM, so its outputs differ "
              "(no diff shown); the Heun-start row is the like-for-like comparison. "
              "Both sides share the ε cost; diffusers' model also rescales x_t -> x_t/sqrt(alpha_bar) on each call. "
              "On a loaded shared machine absolute times "
              "vary between runs: compare within a row."]
    return "\n".join(lines)


def gpu_section(args) -> None:
    """The cuda tables (batch 4096, then ``args.gpu_large``) into the ``samplers-gpu`` section, or a note that
    they were skipped."""
    if not torch.cuda.is_available():
        print("GPU rows skipped: CUDA is not available on this machine (docs/benchmarks.md keeps its GPU section).")
        return
    device = torch.device("cuda")
    parts = ["## Diffusion samplers on a GPU (`benchmarks/bench_samplers.py`)", ""]
    if crosscheck.diffusers_available():
        parts += [markdown(run(device, args.repeats), device), ""]
        parts += [markdown(run(device, max(3, args.repeats // 5), args.gpu_large, LARGE_ROWS), device,
                           args.gpu_large), ""]
    else:
        parts += ["diffusers is not installed: no comparison (pip install 'steplab[diffusers]')", ""]
    parts += [overhead_markdown(run_overhead(device, args.repeats), device), ""]
    text = "\n".join(parts)
    print(text)
    if not args.no_write:
        write_section("samplers-gpu", text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda when available)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: stable timings on a shared machine; 0 = torch's choice)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/benchmarks.md")
    parser.add_argument("--markdown-out", default=None, help="also write the section's markdown to this file")
    parser.add_argument("--extra", default=None, help="markdown file (e.g. a GPU run) appended to the section")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU tables (make gpu-check)")
    parser.add_argument("--gpu-large", type=int, default=1_000_000, help="batch of the large GPU table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device is None:
        gpu_section(args)
        if args.gpu_only:
            return 0
    devices = [torch.device(args.device or "cpu")]
    parts = ["## Diffusion samplers vs diffusers (`benchmarks/bench_samplers.py`)", ""]
    for device in devices:
        if crosscheck.diffusers_available():
            parts += [markdown(run(device, args.repeats), device), ""]
        else:
            parts += ["diffusers is not installed: no comparison (pip install 'steplab[diffusers]')", ""]
        parts += [overhead_markdown(run_overhead(device, args.repeats), device), ""]
    if args.extra:
        parts += [Path(args.extra).read_text().strip(), ""]
    text = "\n".join(parts)
    print(text)
    if args.markdown_out:
        Path(args.markdown_out).write_text(text)
    if not args.no_write:
        write_section("samplers", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
