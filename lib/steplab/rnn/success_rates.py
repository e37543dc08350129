"""Success rate against sequence length for MSGD, MSGD-C and MSGD-CR (Pascanu et al. 2013, Sec. 4.1, Fig. 7).

    python -m steplab.rnn.success_rates            # our CPU grid (minutes), rewrites success_rates.json
    python -m steplab.rnn.success_rates --paper    # T = 50-200 (hours of CPU), written elsewhere with --out

For every (task, T) one batched :func:`steplab.rnn.train.train` call trains ``len(SEEDS)`` seeds of each method
(MSGD: no clipping; MSGD-C: clipping at c = 1; MSGD-CR: clipping + Omega with alpha = 2, the code's default);
the three runs of one seed share initialisation and data. A run succeeds when under 1% of 1000 fresh sequences
are wrong (the paper uses 10,000), checked every 250 iterations. Each trained network is then tested at
``GENERALISATION`` x T (1000 fresh sequences each): length generalisation.

Our grid is a corner of the paper's: T <= 40 and 2000 iterations at lr 0.1 (the paper: lengths from T = 50 up, up
to 5M updates at lr 0.01, 5 seeds, three initialisations), basic tanh initialisation only. ``--paper`` runs
T = 50-200 (the range of the paper's training lengths) with this same code, on the CPU (no GPU path: hours).
The stored file holds the settings, the seeds and every run's outcome; :func:`load` reads it back (notebook 04
shows it without training).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from steplab.optional import require
from steplab.rnn.train import evaluate, train

STORED = Path(__file__).with_name("success_rates.json")
SEEDS = (0, 1, 2, 3, 4)
METHODS = {"MSGD": (None, 0.0), "MSGD-C": (1.0, 0.0), "MSGD-CR": (1.0, 2.0)}  # (clip threshold, Omega weight)
OUR_GRID = {"temporal_order": (10, 20, 40), "addition": (10, 20)}
PAPER_GRID = {"temporal_order": (50, 100, 150, 200), "addition": (50, 100, 150, 200)}
SETTINGS = dict(lr=0.1, init="basic_tanh", hidden_size=50, batch=20, max_iterations=2000, eval_every=250,
                eval_size=1000)
GENERALISATION = (2, 5)
GENERALISATION_SEED_OFFSET = 30_000


def run_cell(task: str, length: int, seeds=SEEDS, **settings) -> list[dict]:
    """Train every method on ``task`` at length ``length`` in one batched call; one dict per (method, seed).
    ``device=`` among the ``settings`` (None: :func:`steplab.device.resolve_device`); the generalisation test runs
    there too."""
    settings = {**SETTINGS, **settings}
    names = [m for m in METHODS for _ in seeds]
    result = train(task, length, seeds=list(seeds) * len(METHODS),
                   clip_thresholds=[METHODS[m][0] for m in names], omega_weights=[METHODS[m][1] for m in names],
                   **settings)
    run_index = torch.arange(len(names))  # indexes the CPU-made test batches
    longer = {}
    for k in GENERALISATION:
        generators = [torch.Generator().manual_seed(s + GENERALISATION_SEED_OFFSET) for s in result.seeds]
        longer[k] = evaluate(task, k * length, result.params, result.layout, generators, run_index,
                             settings["eval_size"])
    return [{"task": task, "length": length, "method": name, "seed": int(result.seeds[r]),
             "solved_at": int(result.solved_at[r]), "final_error": round(float(result.eval_error[-1, r]), 4),
             "error_at": {str(k): round(float(longer[k][r]), 4) for k in GENERALISATION}}
            for r, name in enumerate(names)]


def run_grid(grid: dict[str, tuple[int, ...]], seeds=SEEDS, progress: bool = True, **settings) -> dict:
    """Every cell of ``grid`` ({task: lengths}); returns the stored document (settings, seeds, runs)."""
    cells = [(task, length) for task, lengths in grid.items() for length in lengths]
    bar = require("tqdm.auto", "a progress bar").tqdm(cells, desc="success rates") if progress else cells
    runs, start = [], time.perf_counter()
    for task, length in bar:
        runs.extend(run_cell(task, length, seeds, **settings))
    return {"script": "python -m steplab.rnn.success_rates", "paper": "Pascanu, Mikolov & Bengio 2013, Fig. 7",
            "settings": {**SETTINGS, **settings, "methods": {m: {"clip_threshold": c, "omega_weight": a}
                                                            for m, (c, a) in METHODS.items()},
                         "target_error": 0.01, "generalisation": list(GENERALISATION)},
            "seeds": list(seeds), "grid": {t: list(ls) for t, ls in grid.items()},
            "seconds": round(time.perf_counter() - start), "torch": torch.__version__, "runs": runs}


@dataclass(frozen=True)
class SuccessRates:
    """The stored grid: ``runs`` (one dict per task, length, method, seed) and its settings."""

    document: dict

    @property
    def runs(self) -> list[dict]:
        return self.document["runs"]

    @property
    def seeds(self) -> list[int]:
        return self.document["seeds"]

    def lengths(self, task: str) -> list[int]:
        return self.document["grid"][task]

    def solved(self, task: str, length: int, method: str) -> list[bool]:
        """Per seed: solved within the iteration budget."""
        return [r["solved_at"] >= 0 for r in self.runs
                if (r["task"], r["length"], r["method"]) == (task, length, method)]

    def count(self, task: str, length: int, method: str) -> int:
        return sum(self.solved(task, length, method))

    def rates(self, task: str, method: str) -> list[float]:
        """Success rate at each stored length of ``task``."""
        return [self.count(task, t, method) / len(self.seeds) for t in self.lengths(task)]

    def generalisation(self, task: str, multiple: int) -> list[tuple[int, str, float]]:
        """(T, method, error at multiple x T) of every run solved at T."""
        return [(r["length"], r["method"], r["error_at"][str(multiple)]) for r in self.runs
                if r["task"] == task and r["solved_at"] >= 0]


def load(path: Path | str = STORED) -> SuccessRates:
    """Read a grid written by this script (default: the stored ``success_rates.json``)."""
    return SuccessRates(json.loads(Path(path).read_text()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paper", action="store_true", help="the paper's lengths (hours on a CPU)")
    parser.add_argument("--iterations", type=int, default=SETTINGS["max_iterations"])
    parser.add_argument("--out", type=Path, default=STORED)
    args = parser.parse_args(argv)
    document = run_grid(PAPER_GRID if args.paper else OUR_GRID, max_iterations=args.iterations)
    args.out.write_text(json.dumps(document, indent=None, separators=(",", ":")) + "\n")
    rates = SuccessRates(document)
    for task in document["grid"]:
        for method in METHODS:
            shown = ", ".join(f"T={t}: {rates.count(task, t, method)}/{len(rates.seeds)}" for t in rates.lengths(task))
            print(f"{task:15s} {method:8s} {shown}")
    print(f"{document['seconds']} s; written to {args.out}")


if __name__ == "__main__":
    main()
