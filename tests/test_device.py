"""The device rule on a CPU-only machine: engines create nothing on the CPU by accident and do not wait for
the host every step.

* ``meta`` stands in for an accelerator: an engine run with ``device="meta"`` must produce only meta tensors.
  :class:`DeviceAudit` (a ``TorchDispatchMode``) records every op whose output lands elsewhere, which catches
  what meta alone lets through (a 0-d CPU tensor mixes with meta tensors silently). Meta tensors also have no
  values, so any ``.item()``, ``bool()`` or ``.tolist()`` in the loop raises: a meta run is a no-sync run.
* :class:`SyncCount` (a ``TorchFunctionMode``) counts the calls that copy a value to the host on the CPU; the
  count must not grow with the number of steps (engines with a data-dependent early stop may check it once
  per ``steplab.device.host_check_interval`` steps, which is 1 on the CPU).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from steplab import device as steplab_device
from steplab.device import resolve_device, to_host
from steplab.playground import RunConfig, make_problem, overlay_transform
from steplab.trajectory import run

META = torch.device("meta")


class DeviceAudit(TorchDispatchMode):
    """Records ``(op, device)`` for every op output that is not on ``expected``."""

    def __init__(self, expected: torch.device | str = META):
        super().__init__()
        self.expected = torch.device(expected)
        self.strays: list[tuple[str, str]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor) and value.device.type != self.expected.type:
                self.strays.append((str(func), str(value.device)))
        return out


_SYNCS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__float__,
          torch.Tensor.__int__, torch.Tensor.__index__, torch.Tensor.cpu, torch.Tensor.numpy}


class SyncCount(TorchFunctionMode):
    """Counts the calls that copy a tensor's value to the host (``.item()``, ``bool()``, ``.cpu()`` ...)."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _SYNCS:
            self.calls.append(func.__name__)
        return func(*args, **(kwargs or {}))


def on_meta(engine, *args, **kwargs):
    """``engine(*args, **kwargs)`` under :class:`DeviceAudit`; fails listing the ops that left meta."""
    with DeviceAudit(META) as audit:
        result = engine(*args, **kwargs)
    assert not audit.strays, f"created off the requested device: {audit.strays[:5]}"
    return result


def syncs(engine, *args, **kwargs) -> int:
    with SyncCount() as count:
        engine(*args, **kwargs)
    return len(count.calls)


def assert_no_sync_per_step(make_call, short: int, long: int, allowed_growth: int = 0):
    """The host copies of ``make_call(steps)`` do not grow from ``short`` to ``long`` steps."""
    few, many = syncs(make_call(short)), syncs(make_call(long))
    assert many - few <= allowed_growth, f"{few} host syncs in {short} steps, {many} in {long}: one per step?"


# ----------------------------------------------------------------------------- the policy itself

def test_resolve_device_honours_an_explicit_device_and_defaults_to_default_device(monkeypatch):
    assert resolve_device("meta") == META
    assert resolve_device(None) == steplab_device.default_device()
    monkeypatch.setattr(steplab_device, "default_device", lambda: torch.device("cuda:0"))
    monkeypatch.delenv(steplab_device.DEVICE_ENV_VAR, raising=False)
    limit = steplab_device.CPU_FAST_PATH_MAX_ITEMS
    assert resolve_device(None, work_items=limit) == torch.device("cpu")  # tiny work: the CPU fast path
    assert resolve_device(None, work_items=limit + 1) == torch.device("cuda:0")
    assert resolve_device(None) == torch.device("cuda:0")  # no size given: the default device
    monkeypatch.setenv(steplab_device.DEVICE_ENV_VAR, "cuda:0")  # asked for explicitly: no fast path
    assert resolve_device(None, work_items=1) == torch.device("cuda:0")


def test_host_check_interval_and_to_host():
    assert steplab_device.host_check_interval("cpu") == 1
    assert steplab_device.host_check_interval("meta") == steplab_device.ACCELERATOR_CHECK_INTERVAL > 1
    cpu = torch.ones(2)
    assert to_host(cpu) is cpu  # nothing moves on the CPU
    trajectory = _playground_run("cpu", 3)
    moved = to_host({"a": (trajectory, 3.0), "b": [RunConfig()]})
    assert moved["a"][0].loss is trajectory.loss and moved["a"][1] == 3.0 and moved["b"] == [RunConfig()]
    with pytest.raises(NotImplementedError):  # it does move: meta tensors cannot be copied out
        to_host([torch.ones(2, device="meta")])


def test_make_generator_defaults_to_the_resolved_device():
    assert steplab_device.make_generator(0).device == resolve_device(None)
    assert steplab_device.make_generator(0, "meta").device.type == "cpu"  # meta draws nothing


# ----------------------------------------------------------------------------- core: trajectory + playground

CONFIGS = [RunConfig("gd", 0.1), RunConfig("heavy_ball", 0.05, 0.9, 1.0), RunConfig("nesterov", 0.05, 0.5)]


def _playground_run(device, steps: int, name: str = "quadratic", noise_sigma: float = 0.5):
    problem = make_problem(name, noise_sigma=noise_sigma, device=device)
    transform = overlay_transform(CONFIGS, device=device)
    x0 = torch.tensor([[-1.5, 2.0]], dtype=torch.float64).repeat(len(CONFIGS), 1).to(device)
    return run(problem, transform, x0, steps, seed=3)


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "cosh"])
def test_trajectory_run_stays_on_the_requested_device(name):
    problem = make_problem(name, noise_sigma=0.5, device=META)
    transform = overlay_transform(CONFIGS, device=META)
    x0 = torch.zeros(len(CONFIGS), 2, dtype=torch.float64, device=META)
    trajectory = on_meta(run, problem, transform, x0, 12, seed=3)
    assert trajectory.loss.device == META and trajectory.diverged_at.device == META
    assert trajectory.recorded_steps.device == META


def test_trajectory_run_does_not_sync_with_the_host_per_step():
    assert_no_sync_per_step(lambda steps: (lambda: _playground_run("cpu", steps)), 10, 80)


def test_trajectory_run_refuses_a_generator_on_another_device():
    problem = make_problem("quadratic", device="cpu")
    x0 = torch.zeros(3, 2, dtype=torch.float64)

    class Elsewhere:  # a stand-in for a CUDA generator on a CPU-only machine
        device = torch.device("cuda:0")

    with pytest.raises(ValueError, match="generator is on cuda:0"):
        run(problem, overlay_transform(CONFIGS, device="cpu"), x0, 2, generator=Elsewhere())


def test_playground_readouts_follow_the_iterates_device():
    from steplab.playground import measured_rates

    iterates = torch.zeros(9, 3, 2, dtype=torch.float64, device=META)
    rates = on_meta(measured_rates, iterates, torch.zeros(2, device=META), torch.full((3,), -1, device=META))
    assert rates.device == META and rates.shape == (3,)
    assert math.isnan(float(measured_rates(torch.zeros(2, 1, 2), [0.0, 0.0], [-1])[0]))
