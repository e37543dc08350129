"""Where computations run, which dtype they use, and how they are seeded.

Dtype policy
------------
* ``EXACT_DTYPE = torch.float64`` for every experiment whose printed numbers are asserted
  (notebook checks, claims, tests). This is the library default.
* ``FAST_DTYPE = torch.float32`` is allowed where only a picture or a speed matters (the
  dashboard's live frames, benchmarks). Random draws are made in float32 and cast up where
  float64 is needed, because float64 ``randn`` is ~5x slower on CPUs.
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

import numpy as np
import torch

EXACT_DTYPE = torch.float64
FAST_DTYPE = torch.float32
DEVICE_ENV_VAR = "STEPLAB_DEVICE"


def default_device() -> torch.device:
    """CUDA when available, else CPU; the environment variable ``STEPLAB_DEVICE`` overrides.

    >>> default_device().type in {"cpu", "cuda"}
    True
    """
    requested = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{DEVICE_ENV_VAR}={requested!r} but CUDA is not available on this machine")
        return device
    return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")


def default_dtype() -> torch.dtype:
    """The library's default dtype: float64, so that asserted numbers are exact."""
    return EXACT_DTYPE


def describe_device(device: torch.device | None = None) -> str:
    """Human-readable device name: ``'cuda:0 (NVIDIA H100 ...)'`` or ``'cpu'``."""
    device = device or default_device()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a fresh CPU ``torch.Generator``.

    Library functions never touch global RNG state themselves: they take an explicit
    ``generator`` or ``seed``. This helper is for notebooks and scripts.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return make_generator(seed)


def make_generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default CPU) seeded with ``seed``."""
    generator = torch.Generator(device=device or "cpu")
    generator.manual_seed(int(seed))
    return generator


@contextmanager
def cpu_threads(threads: int | None = 1):
    """Temporarily set torch's intra-op CPU threads, then restore them (``None``: leave as is).

    The family experiments run many steps on small tensors; there one thread is fastest, and on a
    shared CPU, multi-threaded small ops can be 10-100x slower from synchronisation.
    """
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1 or None, got {threads!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
