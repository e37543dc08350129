"""Where computations run, which dtype they use, and how they are seeded.

Device policy
-------------
* Engines whose inputs are tensors (``trajectory.run``, ``diffusion.samplers.sample``) compute on their
  inputs' device. Every other public engine and every experiment takes ``device=None`` and calls
  :func:`resolve_device`: an explicit ``device`` is always honoured; ``None`` means :func:`default_device`
  (CUDA when present, the environment variable ``STEPLAB_DEVICE`` overrides). Tensors, generators and per-run
  parameters are created on it.
* The CPU fast path for tiny work is chosen here and nowhere else: when the default device was
  auto-detected as an accelerator and the caller says its work is at most ``CPU_FAST_PATH_MAX_ITEMS``
  elements per step (``work_items``), :func:`resolve_device` returns the CPU. A CUDA kernel launch costs a
  few microseconds whatever its size, while one CPU core does a float64 element-wise op on 4096 numbers in
  about as long, so below that size every step is launch-bound on the GPU. (Our estimate, not yet measured on
  a GPU: ``benchmarks/bench_sweep.py``'s GPU rows are where to check it.) ``STEPLAB_DEVICE=cuda:0`` switches
  the fast path off: what is asked for explicitly is what runs.
* Results stay on the device inside engines; experiments move their returned dataclasses to the CPU with
  :func:`to_host` (the one place a result leaves the device), because they are printed and drawn.
* Hot loops do not wait for the host every step. A loop with a data-dependent early stop checks it every
  :func:`host_check_interval` steps: every step on the CPU (a check costs nothing there), every
  ``ACCELERATOR_CHECK_INTERVAL`` steps on an accelerator (each check waits for the device to finish).

Random draws
------------
Generators live on the compute device (:func:`make_generator`): noise drawn inside a hot loop is made where it
is used. CUDA's Philox stream differs from the CPU's Mersenne twister, so on a GPU the same seed gives other
draws than on the CPU: everything asserted about random runs (claims, checked notebook cells) is a band or a
boolean that holds for any seed, never a raw value. On the CPU the draws are bit-identical to what they were
before the device rule. Drawn on the CPU and moved, so that they are the same on every machine: data sets,
initial weights and starting points (drawn once), and the RNN tasks' data streams (``steplab.rnn.train``: CPU
generators whose batches are copied to the device each step, a copy, not a wait for the device). ``meta``
tensors (the tests' stand-in for an accelerator) have no generator of their own; they use a CPU one and draw
nothing.

Dtype policy
------------
* ``EXACT_DTYPE = torch.float64`` for every experiment whose printed numbers are asserted
  (notebook checks, claims, tests). This is the library default.
* ``FAST_DTYPE = torch.float32`` is allowed where only a picture or a speed matters (the
  dashboard's live frames, benchmarks). Random draws are made in float32 and cast up where
  float64 is needed, because float64 ``randn`` is ~5x slower on CPUs.
"""

from __future__ import annotations

import dataclasses
import os
import random
from contextlib import contextmanager

import numpy as np
import torch

EXACT_DTYPE = torch.float64
FAST_DTYPE = torch.float32
DEVICE_ENV_VAR = "STEPLAB_DEVICE"
CPU_FAST_PATH_MAX_ITEMS = 4096  # elements per step at or below which the auto-detected GPU yields to the CPU
ACCELERATOR_CHECK_INTERVAL = 64  # steps between host checks of a data-dependent early stop on an accelerator


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


def resolve_device(device: torch.device | str | None = None, *, work_items: int | None = None) -> torch.device:
    """The device an engine computes on: ``device`` when given, else :func:`default_device`, except the CPU for
    tiny work (``work_items`` <= ``CPU_FAST_PATH_MAX_ITEMS`` elements per step) when the default is an
    accelerator that ``STEPLAB_DEVICE`` did not ask for (see the module docstring for why).

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device is not None:
        return torch.device(device)
    chosen = default_device()
    auto_detected = not os.environ.get(DEVICE_ENV_VAR, "").strip()
    if chosen.type != "cpu" and auto_detected and work_items is not None and work_items <= CPU_FAST_PATH_MAX_ITEMS:
        return torch.device("cpu")
    return chosen


def host_check_interval(device: torch.device | str) -> int:
    """Steps between two host checks of a loop's data-dependent stop (1 on the CPU, where a check is free)."""
    return 1 if torch.device(device).type == "cpu" else ACCELERATOR_CHECK_INTERVAL


def move_to(value, device: torch.device | str):
    """``value`` with every tensor on ``device``: tensors, dataclasses, tuples, lists and dicts of them. A tensor
    already there is returned as it is (no copy)."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: move_to(getattr(value, f.name), device) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        return type(value)(*(move_to(v, device) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(move_to(v, device) for v in value)
    if isinstance(value, dict):
        return {k: move_to(v, device) for k, v in value.items()}
    return value


def to_host(value):
    """:func:`move_to` the CPU: the one place a result leaves the device (experiments call it on what they
    return). A CPU tensor is returned as it is (no copy), so on the CPU nothing changes."""
    return move_to(value, "cpu")


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
    return make_generator(seed, "cpu")


def make_generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default :func:`resolve_device`) seeded with ``seed``.

    ``meta`` gets a CPU generator (meta tensors draw nothing; see the module docstring).
    """
    device = resolve_device(device)
    generator = torch.Generator(device="cpu" if device.type == "meta" else device)
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
