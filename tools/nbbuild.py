"""Build notebooks from their percent-format sources, execute them, and store them with outputs.

    python tools/nbbuild.py notebooks/src/00_tour.py [more sources...]   # writes notebooks/00_tour.ipynb
    python tools/nbbuild.py --check                                     # sources and .ipynb in sync?

A source is a plain Python file whose cells start with ``# %%`` (code) or ``# %% [markdown]``
(markdown, every line prefixed by ``# ``). Sources keep diffs readable; the stored .ipynb is what
students open. Output notebooks are executed top to bottom with the current environment's
kernel, and stripped of execution metadata (outputs are kept, as DESIGN.md asks).
A line ``# %% [install]`` stands for the shared install cell (``INSTALL_CELL``).
A source under ``notebooks/src/solutions/`` is written to ``notebooks/solutions/``.

What students see, not what the tools need:

* An nbval comment marker on its own line in a code cell (``# NBVAL_CHECK_OUTPUT``) becomes the cell tag
  nbval also reads (``nbval-check-output``) and the line is dropped from the stored cell.
* An ipywidgets display (a "Try it" ``interact`` cell) is stored as what its Output widgets showed at the
  sliders' starting values (the figure as a plain image output, under a one-line note), not as the widget's
  ``interactive(children=(FloatSlider(...`` text: the picture is there in JupyterLab without a kernel, on
  GitHub and in an HTML export, and running the cell replaces it with the live widget. The widget state
  itself is not stored: JupyterLab 4.6 opened without a kernel did not render it (a notebook carrying nbclient's
  ``store_widget_state`` metadata still showed the widget's raw text), and GitHub does not render widgets.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
KERNELSPEC = {"name": "steplab", "display_name": "Python (steplab)", "language": "python"}
# nbval's comment markers -> the cell tags nbval reads instead (nbval.plugin.metadata_tags)
MARKER_TAGS = {"# NBVAL_CHECK_OUTPUT": "nbval-check-output", "# NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
               "# NBVAL_SKIP": "nbval-skip"}
# The first code cell of every notebook, written by a source line "# %% [install]": one text for all of them, so
# course staff set the install address (STEPLAB) here once and run make notebooks. It cannot live in steplab:
# it runs before steplab is installed.
INSTALL_CELL = """\
# Google Colab: install steplab when it is missing (here, or on a JupyterHub whose image has it, this does nothing).
import importlib.util
import sys

STEPLAB = "steplab[notebooks] @ git+https://github.com/YOUR-COURSE/steplab"  # course staff: your copy of the repo
if importlib.util.find_spec("steplab") is None:
    if "google.colab" in sys.modules:
        %pip install --quiet "$STEPLAB"
    else:
        print("steplab is not installed for this kernel: choose the kernel 'Python (steplab)' (make lab), "
              "or run python -m steplab.check_env")
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "*Stored picture at the sliders' starting values: run the cell (with the kernel) for the sliders.*"


def parse(source: str) -> list[nbformat.NotebookNode]:
    """Split a percent-format script into notebook cells."""
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.split("\n"))
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif text:
            kept = [line for line in text.split("\n") if line.strip() not in MARKER_TAGS]
            cell = nbformat.v4.new_code_cell("\n".join(kept).strip("\n"))
            tags = [MARKER_TAGS[line.strip()] for line in text.split("\n") if line.strip() in MARKER_TAGS]
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in source.split("\n"):
        if line.startswith("# %% [install]"):
            flush()
            cells.append(nbformat.v4.new_code_cell(INSTALL_CELL.strip("\n")))
            kind, lines = None, []
        elif line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def target_of(src: Path) -> Path:
    relative = src.resolve().relative_to(SRC)
    return ROOT / "notebooks" / relative.with_suffix(".ipynb")


def language_info() -> dict:
    """What the IPython kernel reports on connect; JupyterLab writes it into the notebook when it differs,
    which marks an untouched notebook modified, so the stored notebook carries it whole."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


def strip(nb: nbformat.NotebookNode, executed: bool = True) -> None:
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": language_info()}
    count = 0
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags")
        cell.metadata = {"tags": tags} if tags else {}
        cell.id = f"cell-{i:03d}"
        if cell.cell_type == "code":
            # every code cell ran: number them 1, 2, ... in order (nbval refuses outputs without a count,
            # and JupyterLab shows "[ ]:" for a cell without one, as if it had not run)
            count += 1
            cell.execution_count = count if executed else None
            for output in cell.outputs:
                if "execution_count" in output:
                    output["execution_count"] = count


def widget_outputs(model_id: str, widget_state: dict) -> list[nbformat.NotebookNode]:
    """The outputs that the Output widgets inside widget ``model_id`` (and its children) showed, in order."""
    state = widget_state.get(model_id, {})
    outputs = [nbformat.from_dict(out) for out in state.get("outputs", [])] if state.get("_model_name") == (
        "OutputModel") else []
    for child in state.get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            outputs += widget_outputs(child.removeprefix("IPY_MODEL_"), widget_state)
    return outputs


def static_widget_outputs(outputs: list, widget_state: dict) -> list:
    """A cell's outputs with each widget display replaced by what the widget showed (see the module docstring)."""
    result = []
    for output in outputs:
        view = output.get("data", {}).get(WIDGET_VIEW)
        if view is None:
            result.append(output)
            continue
        shown = widget_outputs(view["model_id"], widget_state)
        if not shown:
            raise ValueError(f"a widget ({view['model_id']}) showed nothing to store: draw its initial view")
        note = nbformat.v4.new_output("display_data", data={"text/markdown": WIDGET_NOTE,
                                                              "text/plain": WIDGET_NOTE.strip("*")})
        result += [note, *shown]
    return result


def build(src: Path, execute: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text())
    target = target_of(src)
    if execute:
        os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend stores figures as PNG
        start = time.perf_counter()
        resources = {"metadata": {"path": str(target.parent)}}
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources, store_widget_state=True)
        client.execute()
        print(f"{target.relative_to(ROOT)}: executed in {time.perf_counter() - start:.1f} s")
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = static_widget_outputs(cell.outputs, client.widget_state)
    strip(nb, executed=execute)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def out_of_sync() -> list[str]:
    """Sources whose cells differ from the stored notebook's cells (text only)."""
    problems = []
    for src in sorted(SRC.rglob("*.py")):
        target = target_of(src)
        if not target.exists():
            problems.append(f"{target.relative_to(ROOT)} missing (build it from {src.relative_to(ROOT)})")
            continue
        want = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in parse(src.read_text())]
        have = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nbformat.read(target, as_version=4).cells]
        if want != have:
            problems.append(f"{target.relative_to(ROOT)} differs from {src.relative_to(ROOT)}: run make notebooks")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="only check sources and notebooks are in sync")
    parser.add_argument("--no-execute", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        problems = out_of_sync()
        print("\n".join(problems) or "notebooks in sync with notebooks/src")
        return 1 if problems else 0
    for src in args.sources or sorted(SRC.rglob("*.py")):
        build(src, execute=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
