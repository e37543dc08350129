"""``python -m steplab.check_env``: one OK/FAIL line per dependency, the torch version and device.

Modelled on rasbt/LLMs-from-scratch's python_environment_check.py. Exit status 1 when a
required dependency is missing; optional extras are reported but do not fail the check.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

# the same lists as pyproject.toml's dependencies and extras (tests/test_packaging.py compares them)
REQUIRED = ["torch", "numpy", "scipy", "scikit-learn", "safetensors"]
OPTIONAL = {
    "notebooks": ["jupyterlab", "ipykernel", "ipywidgets", "matplotlib", "tqdm"],
    "app": ["streamlit", "altair", "pandas", "contourpy"],
    "test": ["pytest", "nbval", "ruff", "playwright", "nbformat"],
    "diffusers": ["diffusers"],
}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def lines() -> tuple[list[str], bool]:
    """The report lines and whether every required dependency is present."""
    out, ok = [], True
    for dist in REQUIRED:
        version = _version(dist)
        ok &= version is not None
        out.append(f"[{'OK' if version else 'FAIL'}] {dist} {version or 'not installed (required)'}")
    for extra, dists in OPTIONAL.items():
        for dist in dists:
            version = _version(dist)
            status = "OK" if version else "FAIL"
            out.append(f"[{status}] {dist} {version or f'not installed (extra [{extra}])'}")
    if _version("torch"):
        import torch

        from steplab.device import default_device, describe_device

        out.append(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'no'})")
        try:
            out.append(f"device: {describe_device(default_device())}")
        except RuntimeError as error:
            ok = False
            out.append(f"[FAIL] device: {error}")
    return out, ok


def main() -> int:
    report, ok = lines()
    print("\n".join(report))
    print(f"python {sys.version.split()[0]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
