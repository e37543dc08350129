"""Train the digits denoiser: ``python -m steplab.diffusion.train_digits`` (seeded; a few minutes on 2 CPU cores).

DDPM's ε-prediction objective (Ho et al. 2020, Eq. 14, "L_simple"): t ~ U{0..999}, ε ~ N(0, I),
loss = ‖ε − ε_θ(√ᾱ_t x0 + √(1 − ᾱ_t) ε, t, c)‖² (mean over pixels), on the samplers' linear-β schedule.
Classifier-free guidance is learned by label dropout: with probability ``label_dropout`` the class c is replaced
by the null class (Ho & Salimans 2022, Alg. 1). Adam with a warm-up and cosine decay; the stored weights are the
exponential moving average of the iterates (decay ``ema``), as in DDPM.

Writes ``weights/digits_denoiser.safetensors`` and ``weights/digits_denoiser.json`` (the configs, the loss
log — the mean loss of each ``log_every`` steps —, the final loss, the wall time and the sha256 of the weights
file). A short rerun with the same seed retraces the log's first entries (``tests/test_digits.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from steplab.device import cpu_threads, default_device, describe_device, make_generator
from steplab.diffusion.digits_model import (
    CLASSES,
    INFO_FILE,
    NULL_CLASS,
    WEIGHTS_FILE,
    DigitsNet,
    NetConfig,
    digits_data,
    save_weights,
)
from steplab.diffusion.schedule import alphas_cumprod
from steplab.optional import require
from steplab.validation import check_int, check_positive, check_range


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (the defaults made the stored weights)."""

    steps: int = 6000
    batch: int = 256
    lr: float = 2e-3
    warmup: int = 100
    label_dropout: float = 0.1
    ema: float = 0.999
    seed: int = 0
    log_every: int = 100
    net: NetConfig = field(default_factory=NetConfig)

    def __post_init__(self):
        check_int("steps", self.steps, 1)
        check_int("batch", self.batch, 1)
        check_positive("lr", self.lr)
        check_int("warmup", self.warmup, 0)
        check_range("label_dropout", self.label_dropout, 0.0, 1.0)
        check_range("ema", self.ema, 0.0, 1.0, high_inclusive=False)
        check_int("seed", self.seed, 0)
        check_int("log_every", self.log_every, 1)


@dataclass
class TrainResult:
    """The EMA network, the loss log (mean loss per ``log_every`` steps), the steps run and the wall time (s)."""

    net: DigitsNet
    loss_log: list[float]
    steps_done: int
    seconds: float


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to 0 at ``steps``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))  # ½ lr (1 + cos(π·progress))


def train(config: TrainConfig = TrainConfig(), stop_after: int | None = None, progress: bool = True,
          device=None) -> TrainResult:
    """Train a :class:`DigitsNet`; ``stop_after`` ends early on the same trajectory (same seed, same schedule)."""
    device = device or default_device()
    stop = config.steps if stop_after is None else check_int("stop_after", stop_after, 1)
    generator = make_generator(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = DigitsNet(config.net).to(device)
    ema = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    x0_all, labels_all = (t.to(device) for t in digits_data())
    alpha_bar = alphas_cumprod().to(device=device, dtype=torch.float32)
    steps = range(min(stop, config.steps))
    bar = require("tqdm.auto", "the digits trainer's progress bar").tqdm(steps, desc="digits denoiser") \
        if progress else steps
    log, window = [], []
    start = time.perf_counter()
    for step in bar:
        index = torch.randint(len(x0_all), (config.batch,), generator=generator).to(device)
        t = torch.randint(len(alpha_bar), (config.batch,), generator=generator).to(device)
        eps = torch.randn(config.batch, x0_all.shape[1], generator=generator).to(device)
        drop = (torch.rand(config.batch, generator=generator) < config.label_dropout).to(device)
        labels = torch.where(drop, torch.full_like(labels_all[index], NULL_CLASS), labels_all[index])
        a = alpha_bar[t][:, None]
        x_t = a.sqrt() * x0_all[index] + (1.0 - a).sqrt() * eps  # x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε
        loss = (net(x_t, t, labels) - eps).pow(2).mean()  # L_simple = ‖ε_θ − ε‖²
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in net.parameters()], 1.0 - config.ema)  # θ̄ ← ema θ̄ + (1−ema) θ
        window.append(float(loss.detach()))
        if len(window) == config.log_every:
            log.append(sum(window) / len(window))
            window = []
            if progress:
                bar.set_postfix(loss=f"{log[-1]:.4f}")
    seconds = time.perf_counter() - start
    with torch.no_grad():
        for p, average in zip(net.parameters(), ema):
            p.copy_(average)
    return TrainResult(net.eval(), log, len(steps), seconds)


def sha256(path: Path | str) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write(result: TrainResult, config: TrainConfig, weights: Path = WEIGHTS_FILE, info: Path = INFO_FILE) -> dict:
    """Save the weights (safetensors) and the JSON record next to them; return the record."""
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_weights(result.net, weights)
    record = {
        "config": asdict(config),
        "classes": CLASSES,
        "null_class": NULL_CLASS,
        "final_loss": result.loss_log[-1] if result.loss_log else None,
        "loss_log": result.loss_log,
        "steps_done": result.steps_done,
        "wall_seconds": round(result.seconds, 1),
        "threads": torch.get_num_threads(),
        "device": describe_device(next(result.net.parameters()).device),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "sha256": sha256(weights),
    }
    info.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE.parent, help="folder for the weights and JSON")
    args = parser.parse_args(argv)
    config = replace(TrainConfig(), steps=args.steps, seed=args.seed)
    with cpu_threads(args.threads):
        result = train(config)
        record = write(result, config, args.out / WEIGHTS_FILE.name, args.out / INFO_FILE.name)
    print(f"final loss {record['final_loss']:.4f} after {result.steps_done} steps in {result.seconds:.0f} s; "
          f"wrote {args.out / WEIGHTS_FILE.name} (sha256 {record['sha256'][:12]}…)")


if __name__ == "__main__":
    main()
