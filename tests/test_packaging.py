"""Setup files stay consistent: pyproject vs environment.yml, check_env, notebooks vs their sources."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import steplab
from steplab import check_env
from steplab.device import default_device, describe_device

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _names(requirements):
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_environment_yml_lists_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= _names(extra)
    text = (ROOT / "environment.yml").read_text()
    listed = {re.split(r"[<>=!~ ]", line.strip()[2:], maxsplit=1)[0].lower()
              for line in text.splitlines() if line.strip().startswith("- ")}
    missing = {CONDA_NAMES.get(n, n) for n in wanted} - listed
    assert not missing, f"environment.yml lacks {sorted(missing)}"
    assert "name: steplab" in text


def test_constraints_pin_torch_and_pyproject_does_not():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("torch>=") for d in deps) and not any("==" in d for d in deps)


def test_check_env_reports_every_dependency_and_device():
    report, ok = check_env.lines()
    assert ok
    assert any(line.startswith("[OK] torch ") for line in report)
    assert any(line.startswith("device: ") for line in report)
    out = subprocess.run([sys.executable, "-m", "steplab.check_env"], capture_output=True, text=True, check=True).stdout
    assert describe_device(default_device()) in out


def test_device_override(monkeypatch):
    monkeypatch.setenv("STEPLAB_DEVICE", "cpu")
    assert default_device().type == "cpu"
    assert steplab.seed_everything(3).initial_seed() == 3


def test_notebooks_match_their_sources():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "nbbuild.py"), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout


def test_every_notebook_ends_with_its_claims_table():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text()
        assert "claims.table(" in text, f"{path.name} does not end with its claims table"


def test_cpu_threads_restores_the_setting():
    import pytest
    import torch

    from steplab.device import cpu_threads

    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"), cpu_threads(0):
        pass
