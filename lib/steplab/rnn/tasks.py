"""The pathological long-term-memory tasks of Pascanu et al. (2013, Sec. 4.1), seeded and batched.

Ports the semantics of the official generators (``pascanur/trainingRNNs``: tempOrder.py,
tempOrder3bit.py, addition.py, multiplication.py, permutation.py, memorization.py; Hochreiter &
Schmidhuber 1997 for the task definitions):

| task                   | input                                             | target (loss)                       |
|------------------------|---------------------------------------------------|-------------------------------------|
| temporal_order         | 6-way one-hot; A/B (0/1) at [.1L,.2L), [.5L,.6L)  | 4 classes v0 + 2 v1 (cross-entropy) |
| temporal_order_3bit    | markers at [.1L,.2L), [.3L,.4L), [.6L,.7L)        | 8 classes                           |
| addition               | l = L + U{0..0.1L}; ch. 1 ~ U[0,1), ch. 0 marks   | (a + b)/2 (MSE; wrong if sq.err>.04,|
|                        | p0 in [0, .1l), p1 in [.1l, .5l)                  | i.e. |err| > 0.2: the code's rule)   |
| multiplication         | same                                              | a b                                 |
| random_permutation     | 100-way one-hot, first symbol 0/1, rest 2..99     | the first symbol (100 classes)      |
| noiseless_memorization | 7 channels, L + 20 steps: pattern (5 values) over | blank until the trigger, then the   |
|                        | steps 0-9, blanks, trigger at step L + 10         | pattern over the last 10 steps (the |
|                        | (the first of the last 10 steps)                  | trigger's included); wrong if any   |
|                        |                                                   | step is wrong                       |

A batch is ``(inputs [batch, T, n_in], targets)``; targets are class indices ``[batch]`` (or
``[batch, T]`` for memorization) or values ``[batch, 1]`` for the regression tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from steplab.validation import check_int

Tensor = torch.Tensor

MEMORY_VALUES = 5
MEMORY_POSITIONS = 10
# The official code (RNN.py) counts a regression answer wrong when its *squared* error exceeds 0.04, i.e. when
# |error| > 0.2; Hochreiter & Schmidhuber (1997) put their 0.04 on the *absolute* error, a 5x stricter test.
REGRESSION_TOLERANCE = 0.04  # on the squared error (the code's rule)


@dataclass(frozen=True)
class TaskSpec:
    """Input/output sizes and how the output is read: ``"class"`` (last state), ``"regress"``, ``"every_step"``."""

    name: str
    input_size: int
    output_size: int
    readout: str


TASKS = {
    "temporal_order": TaskSpec("temporal_order", 6, 4, "class"),
    "temporal_order_3bit": TaskSpec("temporal_order_3bit", 6, 8, "class"),
    "addition": TaskSpec("addition", 2, 1, "regress"),
    "multiplication": TaskSpec("multiplication", 2, 1, "regress"),
    "random_permutation": TaskSpec("random_permutation", 100, 100, "class"),
    "noiseless_memorization": TaskSpec("noiseless_memorization", MEMORY_VALUES + 2, MEMORY_VALUES + 1, "every_step"),
}


def get_task(name: str) -> TaskSpec:
    """The :class:`TaskSpec` of ``name``; unknown names raise ValueError listing the valid ones."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    return TASKS[name]


def _uniform_int(low: Tensor | int, high: Tensor | int, shape, generator) -> Tensor:
    """Integers uniform in [low, high) (``high > low``), elementwise."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    low_t = torch.as_tensor(low, dtype=torch.float64)
    high_t = torch.as_tensor(high, dtype=torch.float64)
    return (low_t + torch.floor(u * (high_t - low_t))).long()


def _marker_window(length: int, low: float, high: float) -> tuple[int, int]:
    start = int(low * length)
    return start, max(int(high * length), start + 1)


def _temporal_order(batch, length, generator, windows):
    symbols = _uniform_int(2, 6, (batch, length), generator)
    target = torch.zeros(batch, dtype=torch.long)
    rows = torch.arange(batch)
    for bit, (low, high) in enumerate(windows):
        start, stop = _marker_window(length, low, high)
        position = _uniform_int(start, stop, (batch,), generator)
        value = _uniform_int(0, 2, (batch,), generator)
        symbols[rows, position] = value
        target += value << bit
    return F.one_hot(symbols, 6).float(), target


def arithmetic_length(length: int, generator: torch.Generator) -> int:
    """The addition/multiplication sequence length l = L + U{0, ..., 0.1 L - 1} (one per batch)."""
    return length + int(_uniform_int(0, max(int(0.1 * length), 1), (), generator))


def _arithmetic(batch, length, generator, operation, total=None):
    total = arithmetic_length(length, generator) if total is None else total
    values = torch.rand(batch, total, generator=generator, dtype=torch.float32)
    start0, stop0 = 0, max(int(0.1 * total), 1)
    p0 = _uniform_int(start0, stop0, (batch,), generator)
    p1 = _uniform_int(stop0, max(int(0.5 * total), stop0 + 1), (batch,), generator)
    rows = torch.arange(batch)
    marks = torch.zeros(batch, total)
    marks[rows, p0] = 1.0
    marks[rows, p1] = 1.0
    a, b = values[rows, p0], values[rows, p1]
    target = (a + b) / 2 if operation == "addition" else a * b
    return torch.stack([marks, values], dim=-1), target[:, None]


def _permutation(batch, length, generator):
    symbols = _uniform_int(2, 100, (batch, length), generator)
    first = _uniform_int(0, 2, (batch,), generator)
    symbols[:, 0] = first
    return F.one_hot(symbols, 100).float(), first


def _memorization(batch, length, generator):
    """memorization.py's layout: T = L + 2 n_pos steps; pattern at [0, n_pos), trigger at step L + n_pos, where the
    pattern target starts (targets [T - n_pos, T) = the pattern, blank before)."""
    n_pos, blank, trigger = MEMORY_POSITIONS, MEMORY_VALUES, MEMORY_VALUES + 1
    total = length + 2 * n_pos
    pattern = _uniform_int(0, MEMORY_VALUES, (batch, n_pos), generator)
    symbols = torch.full((batch, total), blank, dtype=torch.long)
    symbols[:, :n_pos] = pattern
    symbols[:, n_pos + length] = trigger
    target = torch.full((batch, total), blank, dtype=torch.long)
    target[:, -n_pos:] = pattern
    return F.one_hot(symbols, MEMORY_VALUES + 2).float(), target


def generate(task: str, batch: int, length: int, generator: torch.Generator,
             total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """One seeded batch of ``task`` at sequence length ``length`` (the gap L for memorization).

    ``total_length`` fixes the jittered length l of addition/multiplication (so several runs can share it).
    """
    spec = get_task(task)
    check_int("batch", batch, 1)
    check_int("length", length, 2)
    if spec.name == "temporal_order":
        return _temporal_order(batch, length, generator, [(0.1, 0.2), (0.5, 0.6)])
    if spec.name == "temporal_order_3bit":
        return _temporal_order(batch, length, generator, [(0.1, 0.2), (0.3, 0.4), (0.6, 0.7)])
    if spec.name in ("addition", "multiplication"):
        return _arithmetic(batch, length, generator, spec.name, total_length)
    if spec.name == "random_permutation":
        return _permutation(batch, length, generator)
    return _memorization(batch, length, generator)


def loss_per_run(spec: TaskSpec, outputs: Tensor, targets: Tensor) -> Tensor:
    """Mean loss over the batch for each run: cross-entropy (classes) or squared error (regression).

    ``outputs`` ``[runs, batch, n_out]`` (``[runs, batch, T, n_out]`` for every-step readout).
    """
    if spec.readout == "regress":
        return ((outputs - targets) ** 2).mean(dim=(1, 2))
    logp = torch.log_softmax(outputs, dim=-1)
    picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -picked.flatten(1).mean(-1)


def error_per_run(spec: TaskSpec, outputs: Tensor, targets: Tensor) -> Tensor:
    """Fraction of wrong sequences per run (Pascanu 2013, Sec. 4.1: success is < 1% wrong)."""
    if spec.readout == "regress":
        wrong = ((outputs - targets) ** 2).squeeze(-1) > REGRESSION_TOLERANCE
    elif spec.readout == "every_step":
        wrong = (outputs.argmax(-1) != targets).any(dim=-1)
    else:
        wrong = outputs.argmax(-1) != targets
    return wrong.to(outputs.dtype).mean(-1)

