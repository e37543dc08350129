"""Shared test setup: ``make test`` computes on the CPU on every machine.

Every test not marked ``gpu`` runs with ``STEPLAB_DEVICE=cpu``, so a machine with CUDA runs the same CPU tests
as one without (the engines' ``device=None`` would otherwise pick the GPU there, and the tests compare with CPU
tensors). The ``gpu`` tests (``make gpu-check``) choose their device themselves.
"""

import pytest

from steplab.device import DEVICE_ENV_VAR


@pytest.fixture(autouse=True)
def _compute_on_the_cpu_unless_marked_gpu(request, monkeypatch):
    if request.node.get_closest_marker("gpu") is None:
        monkeypatch.setenv(DEVICE_ENV_VAR, "cpu")
    yield
