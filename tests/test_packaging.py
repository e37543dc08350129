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


# ---- the core install and the lock ---------------------------------------------------------------------------

def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


CORE_ONLY_SCRIPT = r'''
import importlib, importlib.abc, importlib.metadata as md, json, pkgutil, sys
from packaging.requirements import Requirement

def canonical(name):
    import re
    return re.sub(r"[-_.]+", "-", name).lower()

# the core requirements of steplab and everything they need in turn (what `pip install steplab` brings)
closure, todo = set(), [Requirement(r) for r in sys.argv[1:]]
while todo:
    req = todo.pop()
    name = canonical(req.name)
    if name in closure or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
        continue
    closure.add(name)
    todo += [Requirement(r) for r in (md.requires(req.name) or [])]
blocked = {top for top, dists in md.packages_distributions().items()
           if top != "steplab" and not any(canonical(d) in closure for d in dists)}

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".", 1)[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not a core dependency)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
import importlib.util
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (None if name.split(".", 1)[0] in blocked
                                                       else _find_spec(name, package))  # "is it installed?"
import steplab
report = {}
for info in pkgutil.walk_packages(steplab.__path__, "steplab."):
    try:
        importlib.import_module(info.name)
        report[info.name] = "ok"
    except ImportError as error:
        report[info.name] = f"ImportError: {error}"
from steplab import trajectory
try:
    trajectory._progress(3, True, "x")
    report["progress bar"] = "ok"
except ImportError as error:
    report["progress bar"] = f"ImportError: {error}"
from steplab.logistic import data
report["digits"] = str(tuple(data.digits_pair(3, 8).signed.shape))
print(json.dumps({"blocked": sorted(blocked), "report": report}))
'''


def test_every_module_imports_with_only_the_core_dependencies():
    """Emulates `pip install steplab` (no extras): every distribution outside the core requirements' closure
    is made unimportable; each module then imports, or says which extra to install."""
    import json

    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = subprocess.run([sys.executable, "-c", CORE_ONLY_SCRIPT, *core], capture_output=True, text=True,
                         check=True).stdout
    result = json.loads(out)
    assert {"matplotlib", "tqdm", "streamlit", "pandas", "IPython"} <= set(result["blocked"])
    assert {"torch", "numpy", "scipy", "sklearn"}.isdisjoint(result["blocked"])
    report = result["report"]
    assert "steplab.logistic.data" in report and "steplab.rnn.train" in report
    for module, status in report.items():
        if module.startswith("steplab.plots") or module == "progress bar":
            assert "pip install 'steplab[notebooks]'" in status, (module, status)
        elif module == "steplab.diffusion.schedulers":  # diffusers schedulers subclass diffusers' classes
            assert "pip install 'steplab[diffusers]'" in status, (module, status)
        elif module != "digits":
            assert status == "ok", (module, status)
    assert report["digits"].startswith("(")  # the logistic data sets load with the core install


def test_check_env_lists_are_pyprojects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _names(check_env.REQUIRED) == _names(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        assert _names(check_env.OPTIONAL[extra]) == _names(requirements), extra


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not a name==version pin"
            pins[_canonical(name)] = version.strip()
    return pins


def test_lock_pins_every_installed_distribution():
    """constraints.txt (written by `make lock`) pins each distribution of this environment at its version."""
    import importlib.metadata

    pins = _lock()
    venv_own = {"pip", "setuptools", "wheel", "steplab"}  # come with the venv / are the project itself
    installed = {_canonical(d.metadata["Name"]): d.version.split("+")[0]  # torch 2.13.0+cpu is pinned as 2.13.0
                 for d in importlib.metadata.distributions()}
    unpinned = sorted(set(installed) - set(pins) - venv_own)
    assert not unpinned, f"installed but not in constraints.txt (run make lock): {unpinned}"
    differs = {n: (installed[n], pins[n]) for n in installed if n in pins and installed[n] != pins[n]}
    assert not differs, f"installed version != locked version: {differs}"
    assert pins["torch"].startswith("2.13.0")


def test_environment_yml_uses_conda_forge_only():
    text = (ROOT / "environment.yml").read_text()
    channels = text.split("channels:", 1)[1].split("dependencies:", 1)[0]
    assert [c.strip("- ").strip() for c in channels.strip().splitlines()] == ["conda-forge"]


def test_stored_notebooks_open_unmodified_in_jupyterlab():
    """JupyterLab rewrites language_info on connect (marking the notebook modified when it differs) and shows
    "[ ]:" for code cells without an execution count: the stored notebooks carry both."""
    import nbformat
    from ipykernel.ipkernel import IPythonKernel

    kernel_info = {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        info = {k: v for k, v in nb.metadata["language_info"].items() if k != "version"}
        assert info == kernel_info, path.name
        assert nb.metadata["kernelspec"] == {"display_name": "Python (steplab)", "language": "python",
                                             "name": "steplab"}, path.name
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"


def test_make_test_reruns_the_notebooks_with_portable_kernels():
    makefile = (ROOT / "Makefile").read_text()
    test_deps = re.search(r"^test: (.*)$", makefile, re.M).group(1).split()
    assert "nbtest" in test_deps and "test-default-kernels" in test_deps
    recipe = makefile.split("\ntest-default-kernels:", 1)[1].split("\n\n", 1)[0]
    assert "ATEN_CPU_CAPABILITY=default" in recipe and "$(NBVAL) notebooks" in recipe
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_package_data_ships_every_data_file_of_the_library():
    """A non-editable install (a wheel, e.g. on Colab) must carry the library's data files (stored results)."""
    from fnmatch import fnmatch

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    lib = ROOT / "lib"
    data_files = [p for p in (lib / "steplab").rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}
                  and "__pycache__" not in p.parts]
    assert data_files, "expected at least the stored RNN success rates"
    for path in data_files:
        parts = path.relative_to(lib).parts  # a pattern may name a data folder: "steplab.diffusion" = ["weights/*"]
        splits = [(".".join(parts[:i]), "/".join(parts[i:])) for i in range(1, len(parts))]
        assert any(fnmatch(name, pattern) for package, name in splits for pattern in package_data.get(package, [])), (
            f"{path.relative_to(ROOT)} is not in [tool.setuptools.package-data]")
