"""Every stored notebook tells a student how to use it, and its install cell only installs on Google Colab."""

import re
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STORED = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
MAIN = [p for p in STORED if p.parent == NOTEBOOKS]


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _install_cell(path):
    return next(c for c in _cells(path) if c.cell_type == "code")


def test_every_main_notebook_has_a_solutions_notebook():
    assert len(MAIN) == 5
    for path in MAIN:
        assert (NOTEBOOKS / "solutions" / f"{path.stem}_solutions.ipynb").exists(), path.name


@pytest.mark.parametrize("path", STORED, ids=[p.name for p in STORED])
def test_header_names_kernel_run_time_check_env_and_solutions(path):
    cells = _cells(path)
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "the title comes first"
    header = cells[1].source
    assert cells[1].cell_type == "markdown" and header.startswith("**How to use this notebook.**"), path.name
    assert "**Python (steplab)**" in header and "`make lab`" in header
    assert re.search(r"about\s+\d+\s+s\s+on\s+a\s+laptop\s+CPU", header), header
    assert "python -m steplab.check_env" in header
    if path.parent == NOTEBOOKS:
        named = re.search(r"`notebooks/(solutions/\w+\.ipynb)`", header)
    else:
        named = re.search(r"`notebooks/(\w+\.ipynb)`", header)
    assert named and (NOTEBOOKS / named.group(1)).exists(), f"{path.name}: header names no existing notebook"


def _run_install_cell(path, monkeypatch, colab: bool):
    """Run the notebook's first code cell in an IPython shell where steplab is missing; return the magics called."""
    import importlib.util

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    calls = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "steplab" else real_find_spec(name, *a))
    monkeypatch.setattr(shell, "run_line_magic", lambda name, line, *a, **k: calls.append((name, shell.var_expand(
        line, depth=0))))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    result = shell.run_cell(_install_cell(path).source)
    assert result.success, result.error_in_exec
    return calls


@pytest.mark.parametrize("path", STORED, ids=[p.name for p in STORED])
def test_install_cell_installs_only_on_colab(path, monkeypatch, capsys):
    cell = _install_cell(path)
    assert "%pip install" in cell.source and not cell.outputs, f"{path.name}: no silent install cell first"
    assert _run_install_cell(path, monkeypatch, colab=False) == []
    assert "choose the kernel 'Python (steplab)'" in capsys.readouterr().out
    calls = _run_install_cell(path, monkeypatch, colab=True)
    assert len(calls) == 1 and calls[0][0] == "pip" and "steplab[notebooks] @ git+https://" in calls[0][1], calls
