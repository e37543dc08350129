"""Optional dependencies: import one, or fail with an ImportError that names the extra to install.

The core (``pip install steplab``: torch, numpy, scipy, scikit-learn) runs every experiment. Drawing
(matplotlib), progress bars (tqdm) and the diffusers cross-check need an extra; the error says which::

    ImportError: steplab.plots needs matplotlib, which is not installed: pip install 'steplab[notebooks]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

# import name -> (distribution name, the extra of pyproject.toml that provides it)
EXTRAS = {
    "matplotlib": ("matplotlib", "notebooks"),
    "tqdm": ("tqdm", "notebooks"),
    "ipywidgets": ("ipywidgets", "notebooks"),
    "diffusers": ("diffusers", "diffusers"),
}


def require(module: str, needed_by: str) -> ModuleType:
    """Import ``module`` (e.g. ``"tqdm.auto"``); if it is missing, raise an ImportError naming the extra."""
    top = module.split(".", 1)[0]
    if top not in EXTRAS:
        raise ValueError(f"unknown optional dependency {top!r}; known: {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".", 1)[0] != top:
            raise
        dist, extra = EXTRAS[top]
        raise ImportError(f"{needed_by} needs {dist}, which is not installed: pip install 'steplab[{extra}]'"
                          ) from error
