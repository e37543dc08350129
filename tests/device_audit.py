"""Tools for tests/test_device.py: an audit of where an engine's ops land, and a count of host syncs.

* :class:`DeviceAudit` (a ``TorchDispatchMode``) records every op whose output is not on the requested device and
  every copy onto it from elsewhere; :func:`assert_stays_on_meta` requires that neither grows with the steps
  (setup may read the caller's CPU arguments once, the loop may not). ``meta`` stands in for an accelerator:
  meta tensors have no values, so any ``.item()``, ``bool()`` or ``.tolist()`` in a meta run raises.
* :class:`SyncCount` (a ``TorchFunctionMode``) counts the calls that copy a value to the host;
  :func:`assert_no_sync_per_step` requires that the count does not grow with the steps.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

META = torch.device("meta")


_COPIES = {torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default}


class DeviceAudit(TorchDispatchMode):
    """Records ``(op, device)`` for every op output that is not on ``expected``, and every copy from another
    device onto it (a host-to-device copy made in every step is a stray too)."""

    def __init__(self, expected: torch.device | str = META):
        super().__init__()
        self.expected = torch.device(expected)
        self.strays: list[tuple[str, str]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor) and value.device.type != self.expected.type:
                self.strays.append((str(func), str(value.device)))
        if func in _COPIES:
            sources = [a for a in tree_flatten((args, kwargs or {}))[0] if isinstance(a, torch.Tensor)]
            if any(a.device.type != self.expected.type for a in sources):
                self.strays.append((str(func), f"copy onto {self.expected}"))
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


def assert_stays_on_meta(make_call, short: int, long: int):
    """``make_call(steps)()`` runs on meta and the ops that land elsewhere do not grow from ``short`` to ``long``
    steps: setup may read the caller's CPU arguments on the host once (batch sizes, validation), the loop not."""
    strays = []
    for steps in (short, long):
        with DeviceAudit(META) as audit:
            result = make_call(steps)()
        strays.append(audit.strays)
    grown = Counter(strays[1]) - Counter(strays[0])  # (a first call may also fill a cache: the longer run has less)
    assert not grown, f"made off meta (or copied onto it) in the loop: {dict(grown)}"
    return result


def syncs(engine, *args, **kwargs) -> int:
    with SyncCount() as count:
        engine(*args, **kwargs)
    return len(count.calls)


def assert_no_sync_per_step(make_call, short: int, long: int, allowed_growth: int = 0):
    """The host copies of ``make_call(steps)`` do not grow from ``short`` to ``long`` steps."""
    few, many = syncs(make_call(short)), syncs(make_call(long))
    assert many - few <= allowed_growth, f"{few} host syncs in {short} steps, {many} in {long}: one per step?"
