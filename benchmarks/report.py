"""Write one benchmark's results into its own section of docs/benchmarks.md.

Each benchmark script owns the block between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``
and rewrites only that block, so several benchmarks can share the file.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nSide-by-side timings written by `make bench` (each section by its own script).\n"


def machine() -> str:
    """One line describing where the numbers were measured."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"{device}, torch {torch.__version__}, Python {platform.python_version()}")


def write_section(name: str, markdown: str, path: Path = DOC) -> Path:
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- begin {name} -->\n{markdown.strip()}\n<!-- end {name} -->"
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->.*?<!-- end {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
