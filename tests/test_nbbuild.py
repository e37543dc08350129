"""tools/nbbuild.py stores what a student should see: nbval markers as cell tags, widgets as their first picture."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nbbuild", ROOT / "tools" / "nbbuild.py")
nbbuild = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbbuild)

STORED = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_check_output_marker_becomes_a_tag_and_leaves_the_source():
    cells = nbbuild.parse("# %%\n# NBVAL_CHECK_OUTPUT\nprint(1)\n\n# %%\nx = 2  # NBVAL_CHECK_OUTPUT stays inline\n")
    assert cells[0].source == "print(1)" and cells[0].metadata["tags"] == ["nbval-check-output"]
    assert "tags" not in cells[1].metadata and "NBVAL_CHECK_OUTPUT" in cells[1].source


def test_strip_keeps_tags_and_numbers_code_cells():
    nb = nbformat.v4.new_notebook()
    nb.cells = nbbuild.parse("# %% [markdown]\n# hi\n\n# %%\n# NBVAL_CHECK_OUTPUT\nprint(1)\n\n# %%\ny = 1\n")
    nb.cells[1].metadata["scrolled"] = True
    nbbuild.strip(nb)
    assert [c.metadata for c in nb.cells] == [{}, {"tags": ["nbval-check-output"]}, {}]
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2]


def _widget_output(model_id):
    return nbformat.v4.new_output("display_data", data={
        nbbuild.WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0},
        "text/plain": "interactive(children=(FloatSlider(value=0.4, description='eta'…"})


def test_widget_display_is_replaced_by_what_its_output_widget_showed():
    figure = {"output_type": "display_data", "metadata": {},
              "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480 with 1 Axes>"}}
    state = {"box": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_slider", "IPY_MODEL_out"]},
             "slider": {"_model_name": "FloatSliderModel", "value": 0.4},
             "out": {"_model_name": "OutputModel", "outputs": [figure]}}
    before = nbformat.v4.new_output("stream", name="stdout", text="hello\n")
    outputs = nbbuild.static_widget_outputs([before, _widget_output("box")], state)
    assert outputs[0] == before
    assert outputs[1].data["text/markdown"] == nbbuild.WIDGET_NOTE
    assert outputs[2].data["image/png"] == "iVBORw0KGgo=" and len(outputs) == 3
    assert not any(nbbuild.WIDGET_VIEW in o.get("data", {}) for o in outputs)


def test_a_widget_that_showed_nothing_stops_the_build():
    with pytest.raises(ValueError, match="showed nothing"):
        nbbuild.static_widget_outputs([_widget_output("box")], {"box": {"_model_name": "VBoxModel", "children": []}})


@pytest.mark.parametrize("path", STORED, ids=[p.name for p in STORED])
def test_stored_notebook_shows_no_markers_and_no_raw_widgets(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert "NBVAL_CHECK_OUTPUT" not in cell.source, f"{path.name} cell {i}: marker left in the source"
        for out in cell.outputs:
            data = out.get("data", {})
            assert nbbuild.WIDGET_VIEW not in data, f"{path.name} cell {i}: a widget view is stored"
            assert "interactive(children=" not in data.get("text/plain", ""), f"{path.name} cell {i}: raw widget"
        if "interact(" in cell.source:
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"{path.name} cell {i}: no picture"
    tagged = [c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert tagged and all(c.cell_type == "code" and c.outputs for c in tagged), f"{path.name}: no checked cell"


def test_install_line_becomes_the_one_shared_install_cell():
    """``# %% [install]`` in a source is the shared INSTALL_CELL, so every notebook's install cell is one text."""
    cells = nbbuild.parse("# %% [markdown]\n# # Title\n\n# %% [install]\n\n# %%\nx = 1\n")
    assert [c.cell_type for c in cells] == ["markdown", "code", "code"]
    assert cells[1].source == nbbuild.INSTALL_CELL.strip("\n") and "%pip install" in cells[1].source
    assert cells[2].source == "x = 1"
    sources = sorted(nbbuild.SRC.rglob("*.py"))
    assert sources and all("# %% [install]\n" in src.read_text() for src in sources)
