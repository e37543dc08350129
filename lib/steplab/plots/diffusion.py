"""Figures for the heavy-ball diffusion notebook (Wizadwongsa et al. 2024): regions, toys, sweeps, rings.

Each function draws data computed elsewhere (:mod:`steplab.diffusion.theory`, :mod:`~steplab.diffusion.experiments`).
"""

from __future__ import annotations

import numpy as np

from steplab.plots import COLORS, legend, to_numpy

PALETTE = COLORS + ["#bcbd22", "#7f7f7f", "#000000", "#aec7e8", "#ffbb78", "#98df8a"]  # no colour reused


def palette(count: int) -> list[str]:
    """``count`` distinct colours (the style's eight, then six more); more than that is an error."""
    if count > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} distinct colours in one figure, asked for {count}")
    return PALETTE[:count]


def stability_regions(ax, regions):
    """Boundary loci z(θ) (and a faint fill of each stable set) of a
    :class:`~steplab.diffusion.theory.StabilityRegions` in the δλ plane."""
    for k, name in enumerate(regions.methods):
        color = COLORS[k % len(COLORS)]
        mask = regions.masks[name]
        if mask is not None:
            ax.contourf(to_numpy(regions.real), to_numpy(regions.imag), to_numpy(mask), levels=[0.5, 1.5],
                        colors=[color], alpha=0.08)
        locus = regions.loci[name].numpy()
        ax.plot(locus.real, locus.imag, color=color, lw=1.4, label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlim(*regions.xlim)
    ax.set_ylim(*regions.ylim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re($\delta\lambda$)")
    ax.set_ylabel(r"Im($\delta\lambda$)")
    legend(ax, loc="upper left")
    return ax


def eigen_points(ax, z, label: str = r"$\delta\lambda$ of the problem", marker: str = "x"):
    """Mark z = δλ values (complex) on a stability-region plot."""
    z = np.asarray(to_numpy(z), dtype=complex).ravel()
    ax.plot(z.real, z.imag, marker, color="k", ms=8, mew=2, ls="none", label=label)
    legend(ax, loc="upper left")
    return ax


def toy_norms_plot(ax, paths):
    """‖x(t)‖ along the App. C toy for each method (log scale), with the exact solution
    (a :class:`~steplab.diffusion.experiments.ToyPaths`)."""
    ax.plot(to_numpy(paths.exact_times), to_numpy(paths.exact_norms), color="k", lw=2, alpha=0.4, label="exact")
    for color, (name, norms) in zip(palette(len(paths.norms)), paths.norms.items()):
        ax.plot(to_numpy(paths.times), to_numpy(norms), "o-", ms=3, color=color, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("time t")
    ax.set_ylabel(r"$\|x(t)\|$")
    legend(ax)
    return ax


def divergence_vs_steps(ax, sweep):
    """Fraction of diverged samples (‖x_N − x_ref‖ > 1) against the number of steps N, one line per method."""
    for color, name in zip(palette(len(sweep.methods)), sweep.methods):
        ax.plot(sweep.steps, [sweep.divergence[name][n] for n in sweep.steps], marker="o", ms=4, color=color,
                label=name)
    ax.set_xlabel("number of steps N (NFE)")
    ax.set_ylabel(r"diverged fraction ($\|x_N - x_{ref}\| > 1$)")
    legend(ax, ncol=2)
    return ax


def error_bars(ax, sweep, steps: int = 30):
    """Median ℓ2 error against the fine reference at N = ``steps``, one bar per method."""
    values = [sweep.error[name][steps] for name in sweep.methods]
    ax.bar(range(len(values)), values, color=palette(len(values)))
    ax.set_xticks(range(len(values)), sweep.methods, rotation=45, ha="right")
    ax.set_ylabel(rf"median $\|x_N - x_{{ref}}\|$ at N = {steps}")
    return ax


def order_lines(ax, errors: dict[str, list[float]], steps, slopes=(1, 2, 4)):
    """Global error against N on log-log axes, one line per method, with grey guides ∝ N^{−p} for p in ``slopes``
    (anchored at the first N, a decade above the largest error there)."""
    for color, (name, values) in zip(palette(len(errors)), errors.items()):
        ax.loglog(steps, values, "o-", ms=3, color=color, label=name)
    n = np.asarray(steps, dtype=float)
    top = 10 * max(v[0] for v in errors.values())
    for p, style in zip(slopes, (":", "--", "-.", (0, (1, 4)))):
        ax.loglog(n, top * (n / n[0]) ** (-p), color="0.5", lw=1, ls=style, label=f"slope −{p}")
    ax.set_xlabel("number of steps N")
    ax.set_ylabel(r"$|x_N - x(2)|$")
    legend(ax, ncol=2)
    return ax


def step_eigenvalue_plot(ax, eigenvalues):
    """Per step n: median over samples of min_i δ_n λ_i (the most negative test-equation point), one line per
    label, with each method's real stability boundary as a dashed horizontal line
    (a :class:`~steplab.diffusion.experiments.StepEigenvalues`)."""
    for k, (label, worst) in enumerate(eigenvalues.worst.items()):
        worst = to_numpy(worst)
        ax.plot(np.arange(len(worst)), worst, "o-", color="k" if k == 0 else COLORS[1], label=label, ms=4)
    for color, (name, boundary) in zip(palette(len(eigenvalues.boundaries) + 2)[2:], eigenvalues.boundaries.items()):
        ax.axhline(boundary, ls="--", lw=1, color=color, label=f"{name} boundary")
    ax.set_xlabel("step n")
    ax.set_ylabel(r"median over samples of min$_i\ \delta_n\lambda_i$")
    legend(ax, ncol=2)
    return ax


def ring_scatter(ax, samples, diverged=None, title: str = "", limit: float = 3.0, right=None):
    """2-D samples on the eight-class ring: ``diverged`` ones (boolean [batch], ‖x_N − x_ref‖ > 1) in red; with
    ``right`` (boolean [batch], nearest class mean = own label), the others split into right cluster (blue) and
    wrong cluster (orange). Points beyond ``limit`` are drawn on the edge."""
    x = to_numpy(samples)
    bad = np.zeros(len(x), dtype=bool) if diverged is None else to_numpy(diverged).astype(bool)
    good = np.ones(len(x), dtype=bool) if right is None else to_numpy(right).astype(bool)
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="k", lw=0.5, alpha=0.4)
    shown = np.clip(np.nan_to_num(x, nan=limit, posinf=limit, neginf=-limit), -limit, limit)
    ok = ~bad & good
    ax.scatter(shown[ok, 0], shown[ok, 1], s=4, color=COLORS[0],
               label=f"right cluster ({ok.mean():.0%})" if right is not None else "ok")
    if right is not None:
        wrong = ~bad & ~good
        ax.scatter(shown[wrong, 0], shown[wrong, 1], s=5, color=COLORS[3], label=f"wrong cluster ({wrong.mean():.0%})")
    ax.scatter(shown[bad, 0], shown[bad, 1], s=6, color=COLORS[1], label=f"diverged ({bad.mean():.0%})")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    ax.set_title(title)
    legend(ax, outside=True, ncol=1, markerscale=2)  # the edges hold the clipped far samples
    return ax


def ghvb_beta_plot(ax_div, ax_err, sweep, few: int = 10, many: int = 30):
    """GHVB's trade-off over β (a :class:`~steplab.diffusion.sweeps.BetaSweep`): diverged fraction at N = ``few``
    on ``ax_div``, median error at N = ``many`` on ``ax_err``."""
    betas = list(sweep.betas)
    ax_div.plot(betas, [sweep.divergence[b][few] for b in betas], "o-", color=COLORS[1])
    ax_div.set_xlabel("damping β of GHVB 3.β (β = 1: PLMS4)")
    ax_div.set_ylabel(rf"diverged fraction at N = {few}")
    ax_err.plot(betas, [sweep.error[b][many] for b in betas], "o-", color=COLORS[0])
    ax_err.set_xlabel("damping β of GHVB 3.β (β = 1: PLMS4)")
    ax_err.set_ylabel(rf"median $\|x_N - x_{{ref}}\|$ at N = {many}")
    return ax_div, ax_err


def hb_error_plot(ax, sweep):
    """HB's median error against N for each β, and DDIM's (a :class:`~steplab.diffusion.sweeps.BetaSweep`)."""
    colors = palette(len(sweep.betas) + 1)
    for color, b in zip(colors, sweep.betas):
        ax.loglog(sweep.steps, [sweep.error[b][n] for n in sweep.steps], "o-", ms=4, color=color,
                  label=sweep.names[b] + (" (β = 1)" if b == 1.0 else f" (β = {b:g})"))
    ax.loglog(sweep.steps, [sweep.ddim_error[n] for n in sweep.steps], "s--", ms=4, color=colors[-1], label="ddim")
    ax.set_xlabel("number of steps N (NFE)")
    ax.set_ylabel(r"median $\|x_N - x_{ref}\|$")
    legend(ax)
    return ax


def dpm_grid_plot(ax, grid):
    """Diverged fraction against N of DPM-Solver++ (solid) and with HB (dashed, dotted), one colour per guidance w
    (a :class:`~steplab.diffusion.sweeps.DpmGrid`)."""
    styles = ("-", "--", ":")
    for color, w in zip(palette(len(grid.guidances)), grid.guidances):
        for style, m in zip(styles, grid.methods):
            ax.plot(grid.steps, [grid.divergence[m][w][n] for n in grid.steps], marker="o", ms=4, ls=style,
                    color=color, label=f"{m}, w = {w:g}")
    ax.set_xlabel("number of steps N (NFE)")
    ax.set_ylabel(r"diverged fraction ($\|x_N - x_{ref}\| > 1$)")
    legend(ax, outside=True)
    return ax
