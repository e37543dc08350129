"""Figures for notebook 04 (Pascanu, Mikolov & Bengio 2013): the cliff, clipped paths, RNN training.

Every function draws arrays it is given (see :mod:`steplab.rnn.experiments` for the computations).
"""

from __future__ import annotations

import numpy as np

from steplab.plots import COLORS, to_numpy
from steplab.plots import legend as put_legend


def lines(ax, w, wall, valley, legend: bool = True):
    """Overlay the wall b = 0.5 - w sigma(0.5) (NaN where w <= 4.2553) and the valley b = ln(7/3) - 0.7 w over ``w``."""
    ax.plot(to_numpy(w), to_numpy(wall), "--", color="white", lw=1.5, label="wall (basin boundary, w > 4.26)")
    ax.plot(to_numpy(w), to_numpy(valley), ":", color="cyan", lw=1.5, label="valley σ(x*) = 0.7")
    if legend:
        put_legend(ax, loc="upper right", labelcolor="black", facecolor="white", framealpha=0.8, frameon=True)


def surface(ax, w, b, values, title: str, label: str, log10: bool = False, cmap: str = "viridis", fig=None):
    """Draw a [len(b), len(w)] field as an image with w horizontal, b vertical, with a colour bar labelled ``label``
    (on ``fig``, default ``ax``'s figure)."""
    data = to_numpy(values)
    if log10:
        data = np.log10(np.maximum(data, 1e-12))
    w, b = to_numpy(w), to_numpy(b)
    image = ax.imshow(data, origin="lower", aspect="auto", extent=(w[0], w[-1], b[0], b[-1]), cmap=cmap)
    (fig or ax.figure).colorbar(image, ax=ax, label=label)
    ax.set_xlabel("w (recurrent weight)")
    ax.set_ylabel("b (bias)")
    ax.set_title(title)
    ax.grid(False)
    return image


def cliff_figure(fig, axes, w, b, loss, grad_norm, wall, valley):
    """log10 E_50 (left) and log10 ||grad E_50|| (right), ``[len(b), len(w)]``, with the wall and valley lines (Fig. 6).

    The loss is drawn on a log scale so that the zero-loss valley beside the wall is visible.
    """
    surface(axes[0], w, b, loss, "loss $E_{50}(w, b)$", r"$\log_{10} E_{50}$", log10=True, fig=fig)
    lines(axes[0], w, wall, valley)
    surface(axes[1], w, b, grad_norm, "gradient norm", r"$\log_{10}\|\nabla E_{50}\|$", log10=True,
            cmap="magma", fig=fig)
    lines(axes[1], w, wall, valley, legend=False)
    for ax in axes:
        ax.set_xlim(*to_numpy(w)[[0, -1]])
        ax.set_ylim(*to_numpy(b)[[0, -1]])


def paths(ax, trajectory, labels, color_offset: int = 0, style: str = "-", runs=None):
    """(w, b) paths of a cliff :class:`Trajectory`; a dot marks each start, a cross each end."""
    iterates = to_numpy(trajectory.iterates)
    runs = range(iterates.shape[1]) if runs is None else runs
    for k, r in enumerate(runs):
        color = COLORS[(k + color_offset) % len(COLORS)]
        ax.plot(iterates[:, r, 0], iterates[:, r, 1], style, color=color, lw=1.4, marker=".", ms=3,
                label=labels[k] if labels else None)
        ax.plot(iterates[0, r, 0], iterates[0, r, 1], "o", color=color, ms=6, mec="white")
        ax.plot(iterates[-1, r, 0], iterates[-1, r, 1], "X", color=color, ms=8, mec="white")


def jacobian_norms(ax, norms, bound, lambdas, activation: str):
    """||dx_t/dx_0|| ``[T + 1, len(lambdas)]`` vs t (log scale) per lambda_1, the bound (lambda_1 gamma)^t dashed."""
    norms, bound = to_numpy(norms), to_numpy(bound)
    t = np.arange(norms.shape[0])
    for k, lam in enumerate(lambdas):
        ax.plot(t, norms[:, k], color=COLORS[k], label=f"λ₁ = {lam:g}")
        ax.plot(t, bound[:, k], "--", color=COLORS[k], lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("t (steps back in time)")
    ax.set_ylabel(r"$\|\partial x_t / \partial x_0\|_2$")
    gamma = {"tanh": "1", "sigmoid": "1/4"}[activation]
    ax.set_title(f"{activation} (γ = {gamma}); dashed: (λ₁γ)^t")
    put_legend(ax)


METHOD_COLORS = {"MSGD": COLORS[1], "MSGD-C": COLORS[0], "MSGD-CR": COLORS[2]}


def _styles(result, runs, by_method: bool):
    """(run, colour, label) per run: one colour per run, or one per method with one legend entry each."""
    seen = set()
    for k, r in enumerate(runs):
        if not by_method:
            yield r, COLORS[k % len(COLORS)], result.label(r)
            continue
        method = result.label(r).split(" ", 1)[0]
        yield r, METHOD_COLORS[method], (None if method in seen else method)
        seen.add(method)


def grad_norms(ax, result, runs=None, by_method: bool = False):
    """Pre-clip gradient norms vs iteration for a :class:`TrainingResult` (log scale): the spikes.

    ``by_method``: colour runs by method (MSGD / MSGD-C / MSGD-CR) instead of one colour per run.
    """
    norms = to_numpy(result.grad_norm)
    runs = range(norms.shape[1]) if runs is None else runs
    for r, color, label in _styles(result, runs, by_method):
        ax.plot(np.arange(1, norms.shape[0] + 1), norms[:, r], lw=0.6, color=color, label=label,
                alpha=0.5 if by_method else 0.85)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("‖g‖ before clipping")
    put_legend(ax, outside=True)


def eval_errors(ax, result, runs=None, chance: float = 0.75, by_method: bool = False):
    """Error on fresh sequences vs iteration; the paper's success line at 1% and chance dotted."""
    steps, errors = to_numpy(result.eval_steps), to_numpy(result.eval_error)
    runs = range(errors.shape[1]) if runs is None else runs
    for r, color, label in _styles(result, runs, by_method):
        stop = int(result.solved_at[r])
        keep = steps <= stop if stop >= 0 else slice(None)
        ax.plot(steps[keep], errors[keep, r], marker="o", ms=3, color=color, label=label,
                alpha=0.6 if by_method else 1.0)
    ax.axhline(0.01, color="black", lw=0.8, ls="--", label="success: 1% wrong")
    ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("fraction wrong (fresh sequences, log)")
    put_legend(ax, outside=True)


def threshold_bars(ax, multiples, thresholds, solved_counts, seeds: int):
    """Seeds solved (out of ``seeds``) per clipping threshold, labelled by its multiple of the average norm."""
    labels = [f"{m:g}× ({c:.2f})" for m, c in zip(multiples, thresholds)]
    ax.bar(labels, list(solved_counts), color=COLORS[2])
    ax.set_ylim(0, seeds + 0.2)
    ax.set_xlabel("clip threshold: multiple of the average ‖g‖ (value)")
    ax.set_ylabel("seeds solved in 2000 iterations")


def bifurcation(ax, x, b_of_x, stable, bifurcations, b, limit_low, limit_high, w: float):
    """Doya's picture (Fig. 3): fixed points x* against b (solid stable, dashed unstable), the limits reached from
    x = -10 and x = +10 (dots), the two-attractor window shaded and its saddle-node points marked."""
    x, b_of_x, stable = to_numpy(x), to_numpy(b_of_x), to_numpy(stable)
    ax.plot(np.where(stable, b_of_x, np.nan), x, color=COLORS[0], lw=2, label="stable fixed point")
    ax.plot(np.where(stable, np.nan, b_of_x), x, "--", color=COLORS[1], lw=1.5, label="unstable (basin boundary)")
    ax.plot(to_numpy(b)[::20], to_numpy(limit_low)[::20], ".", color=COLORS[2], ms=4, label="limit from x = -10")
    ax.plot(to_numpy(b)[::20], to_numpy(limit_high)[::20], ".", color=COLORS[3], ms=4, label="limit from x = +10")
    (b_low, x_low), (b_high, x_high) = bifurcations
    ax.axvspan(b_low, b_high, color="grey", alpha=0.15, label=f"two attractors: b in ({b_low:.3f}, {b_high:.3f})")
    ax.plot([b_low, b_high], [x_low, x_high], "kx", ms=9, mew=2, label="bifurcation points")
    ax.set_xlim(float(to_numpy(b)[0]), float(to_numpy(b)[-1]))
    ax.set_ylim(-4, 6)
    ax.set_xlabel("b (bias)")
    ax.set_ylabel("x* (fixed point / limit state)")
    ax.set_title(f"x ↦ {w:g} σ(x) + b (Fig. 3)")
    put_legend(ax, outside=True)


def success_rates(ax, lengths, rates_by_method: dict, task: str, seeds: int):
    """Success rate (fraction of ``seeds``) against sequence length T, one line per method (Fig. 7's axes)."""
    for k, (method, rates) in enumerate(rates_by_method.items()):
        ax.plot(lengths, rates, marker="o", color=METHOD_COLORS[method], lw=1.5, ms=6 - k, label=method)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(list(lengths))
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(f"success rate ({seeds} seeds)")
    ax.set_title(task.replace("_", " "))
    put_legend(ax)


def vanishing_norms(ax, distance, norms: dict):
    """||dE/dh_k|| against T - k (log scale) per (initialisation, method): one colour per initialisation, solid
    MSGD-C, dashed MSGD-CR."""
    d = to_numpy(distance)
    inits = list(dict.fromkeys(init for init, _ in norms))
    for (init, method), values in norms.items():
        v = to_numpy(values).astype(float)
        v[v <= 0] = np.nan  # float32 underflow: not drawable on a log axis
        ax.plot(d, v, "--" if method == "MSGD-CR" else "-", color=COLORS[inits.index(init) % len(COLORS)], lw=1.5,
                label=f"{init.replace('_', ' ')}, {method}")
    ax.set_yscale("log")
    ax.set_xlabel("distance T − k (steps back from the loss)")
    ax.set_ylabel(r"$\|\partial E / \partial h_k\|$ (batch mean)")
    put_legend(ax, outside=True)  # the fast-vanishing curves fill the lower left
