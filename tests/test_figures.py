"""The figure rules (steplab.plots docstring): every public plot function draws, with small representative data, a
figure at most MAX_WIDTH wide whose text is >= MIN_FONT pt, whose legends are non-empty and do not cover data
points, which reuses no (colour, line, marker) for two labels, whose images have colour bars, and which warns of
nothing. The stored notebooks' pictures fit JupyterLab's width."""

from __future__ import annotations

import base64
import inspect
import json
import struct
import warnings
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch

mpl = pytest.importorskip("matplotlib")
mpl.use("agg")

from steplab import plots  # noqa: E402
from steplab.plots import clipping as cplots  # noqa: E402
from steplab.plots import diffusion as dplots  # noqa: E402
from steplab.plots import diffusion_digits as ddplots  # noqa: E402
from steplab.plots import logistic as lplots  # noqa: E402
from steplab.plots import rnn as rplots  # noqa: E402
from steplab.tour import gd, landscape  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"plots": plots, "clipping": cplots, "diffusion": dplots, "logistic": lplots, "rnn": rplots,
           "diffusion_digits": ddplots}
HELPERS = {"use_style", "to_numpy", "figure_size", "subplots", "legend", "close", "gamma_label", "label_c", "palette",
           "mosaic"}
T = torch.arange(1, 41, dtype=torch.float64)


def _inside(box, xy) -> int:
    xy = xy[np.isfinite(xy).all(1)]
    return int(((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)).sum())


def _images(ax) -> list:
    """``ax``'s heat maps: images, meshes and filled contours of more than 2 levels (a 2-level fill is a region)."""
    images = list(ax.images) + [c for c in ax.collections if isinstance(c, mpl.collections.QuadMesh)]
    return images + [c for c in ax.collections if isinstance(c, mpl.contour.ContourSet) and c.filled and
                     len(c.levels) > 2]


def figure_problems(fig) -> list[str]:
    """What breaks the figure rules in ``fig`` (drawn once here): empty list when none."""
    fig.canvas.draw()
    problems = []
    if fig.get_size_inches()[0] > plots.MAX_WIDTH + 1e-9:
        problems.append(f"figure {fig.get_size_inches()[0]:.1f} in wide > {plots.MAX_WIDTH}")
    for text in fig.findobj(mpl.text.Text):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < plots.MIN_FONT - 1e-9:
            problems.append(f"text {text.get_text()!r} at {text.get_fontsize():g} pt")
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    for leg in legends:
        labels = [t.get_text() for t in leg.get_texts()]
        if not labels or not all(label.strip() for label in labels):
            problems.append(f"empty legend entry in {labels}")
        seen = {}
        for handle, label in zip(leg.legend_handles, labels):
            if isinstance(handle, mpl.lines.Line2D):
                key = (mpl.colors.to_hex(handle.get_color()), handle.get_alpha(), handle.get_linestyle(),
                       handle.get_marker())
            elif hasattr(handle, "get_facecolor"):
                face = np.atleast_2d(handle.get_facecolor())
                key = (mpl.colors.to_hex(face[0]) if len(face) else "none", type(handle).__name__)
            else:
                continue
            if seen.setdefault(key, label) != label:
                problems.append(f"{key} used for both {seen[key]!r} and {label!r}")
    renderer = fig.canvas.get_renderer()
    with_bar = [im for ax in fig.axes if not hasattr(ax, "_colorbar") for im in _images(ax) if im.colorbar is not None]
    for ax in [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]:  # colour-bar axes draw their own mesh
        leg = ax.get_legend()
        if leg is not None:
            box = leg.get_window_extent(renderer)
            covered = 0
            for line in ax.get_lines():
                if line.get_transform() is ax.transData and line.get_visible():
                    xy = ax.transData.transform(np.ma.filled(line.get_xydata().astype(float), np.nan))
                    covered += _inside(box, xy)
            for coll in ax.collections:
                if isinstance(coll, mpl.collections.PathCollection) and coll.get_offset_transform() is ax.transData:
                    xy = ax.transData.transform(np.asarray(coll.get_offsets(), dtype=float))
                    covered += _inside(box, xy)
            if covered:
                problems.append(f"legend of {ax.get_title()!r} covers {covered} data points")
            if box.x0 < -1 or box.x1 > fig.bbox.x1 + 1:  # the stored PNG would grow wider than the figure
                problems.append(f"legend of {ax.get_title()!r} sticks out of the figure sideways")
        for im in _images(ax):
            shared = any(im.cmap.name == b.cmap.name and im.norm.vmin == b.norm.vmin and im.norm.vmax == b.norm.vmax
                         for b in with_bar)
            if not shared:
                problems.append(f"image in {ax.get_title()!r} without a colour bar")
    return problems


def draw(case, ncols: int = 1, width: float = 4.6) -> list[str]:
    """Run ``case(fig, axes)`` with warnings as errors; the figure's problems."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, axes = plots.subplots(ncols, width=width)
        try:
            case(fig, axes[0])
            if not isinstance(fig.get_layout_engine(), mpl.layout_engine.ConstrainedLayoutEngine):
                fig.tight_layout()
            return figure_problems(fig)
        finally:
            plots.plt.close(fig)


# --------------------------------------------------------------------------- small representative data per function
def _traj():
    return gd(torch.tensor([0.4, 0.6], dtype=torch.float64), steps=60)


def _land():
    return landscape((-5.5, 1.5), (-3.0, 3.0), resolution=40)


def _two_clusters():
    """Gradient samples as in E6: 90% near (1, 0), 10% near (20, 20), [200, 1 chain, 2]."""
    noise = torch.randn(200, 1, 2, generator=torch.Generator().manual_seed(0))
    far = (torch.arange(200) % 10 == 0)[:, None, None]
    return torch.where(far, torch.tensor([20.0, 20.0]), torch.tensor([1.0, 0.0])) + noise


def _clipping_cases():
    c = torch.tensor([0.5, 1.0, 2.0, float("inf")], dtype=torch.float64)
    grad = torch.exp(-0.1 * T).unsqueeze(1) * torch.tensor([1.0, 0.8, 0.6, 0.4])
    k = torch.arange(1, 51, dtype=torch.float64)
    return {
        "gradient_norm_curves": lambda f, a: cplots.gradient_norm_curves(a[0], grad, c, title="t"),
        "iterations_vs_threshold": lambda f, a: cplots.iterations_vs_threshold(
            a[0], NS(clip_threshold=c, measured=torch.stack([20 + 5 / c, 40 + 5 / c], 1)),
            lambda cc, eps: 20 * torch.log10(torch.tensor(1 / eps)) / 2 + 5 / cc),
        "bias_vs_threshold": lambda f, a: cplots.bias_vs_threshold(
            a[0], c[:3], 0.1 / c[:3], lambda cc: 0.1 / cc, curves={"σ²/c": lambda cc: 0.2 / cc},
            errors=0.01 * torch.ones(3)),
        "chain_mean_paths": lambda f, a: cplots.chain_mean_paths(
            a[0], NS(trace_steps=k, smoothness=1.0, mean_path=torch.stack([1 - 1 / k, 0.5 - 0.5 / k], 1).unsqueeze(-1),
                     burn_in=10), ["c = 1", "c = 2"], predicted=[1.0, 0.5]),
        "bias_vs_batch_size": lambda f, a: cplots.bias_vs_batch_size(
            a[0], NS(batch_size=torch.tensor([1, 2, 4, 8]), per_sample_theory=torch.full((4,), 0.2),
                     per_sample=torch.full((4,), 0.21), batch_theory=0.2 / torch.tensor([1, 2, 4, 8.0]),
                     batch=0.2 / torch.tensor([1, 2, 4, 8.0]))),
        "heavy_tail_paths": lambda f, a: cplots.heavy_tail_paths(
            a[0], NS(trace_steps=k, paths=torch.stack([torch.sin(k), 10 * torch.cos(k)], 1)[:, :, None, None],
                     clip_threshold=torch.tensor([1.0, float("inf")]))),
        "median_tracker_picture": lambda f, a: cplots.median_tracker_picture(
            a, NS(stream=_two_clusters(),
                  paths=NS(median=torch.linspace(0, 1, 50)[:, None, None].expand(50, 1, 2),
                           mean=torch.linspace(0, 2, 50)[:, None, None].expand(50, 1, 2)),
                  geometric_median=torch.tensor([1.0, 0.0]), mean=torch.tensor([2.9, 2.0]))),
        "rate_curves": lambda f, a: cplots.rate_curves(
            a[0], NS(steps=k, mean_norm=torch.stack([1 / k + 0.1, 1 / k + 0.05], 1), floor=torch.tensor([1 / 9, 0.0]),
                     stationary_rms=torch.tensor([0.12, 0.05]), clip_threshold=torch.tensor([0.5, float("inf")]),
                     step_size=torch.tensor([0.1, 0.01]))),
        "safe_and_best_steps": lambda f, a: cplots.safe_and_best_steps(
            a[0], NS(safe_iterations=6840, step_size=torch.tensor([0.01, 0.3]), best=1,
                     grad_norm=torch.stack([torch.exp(-0.05 * T), torch.exp(-0.5 * T)], 1))),
        "robust_sgd_paths": lambda f, a: cplots.robust_sgd_paths(
            a[0], NS(steps=k, methods=["mean", "median", "clip", "spp", "momentum"],
                     median_abs=torch.stack([(1 + j) / k for j in range(5)], 1))),
    }


def _diffusion_cases():
    from steplab.diffusion import theory

    regions = theory.stability_regions(["ab1", "ab2"], resolution=30)
    steps = [5, 10, 20]
    methods = ["ddim", "plms4", "hb0.8"]
    sweep = NS(methods=methods, steps=steps, divergence={m: {n: 0.1 * j / n for n in steps} for j, m in
                                                         enumerate(methods)},
               error={m: {n: (1 + j) / n for n in steps + [30]} for j, m in enumerate(methods)})
    betas = [0.2, 0.8, 1.0]
    beta_sweep = NS(betas=betas, steps=steps, names={b: "hb" for b in betas},
                    divergence={b: {10: 0.1 * b} for b in betas},
                    error={b: {n: b / n for n in steps + [30]} for b in betas},
                    ddim_error={n: 2 / n for n in steps})
    grid = NS(guidances=[1.0, 7.5], methods=["dpm++", "dpm++hb0.8", "dpm++hb0.6"], steps=steps,
              divergence={m: {w: {n: 0.01 * w / n for n in steps} for w in (1.0, 7.5)} for m in
                          ["dpm++", "dpm++hb0.8", "dpm++hb0.6"]})
    ring = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * 0.2 + torch.tensor([1.0, 0.0])
    return {
        "stability_regions": lambda f, a: dplots.stability_regions(a[0], regions),
        "eigen_points": lambda f, a: (dplots.stability_regions(a[0], regions),
                                      dplots.eigen_points(a[0], torch.tensor([-0.5 + 0j, -1.5 + 0j]))),
        "toy_norms_plot": lambda f, a: dplots.toy_norms_plot(
            a[0], NS(exact_times=T / 10, exact_norms=torch.exp(-T / 10), times=T[::4] / 10,
                     norms={"ab1": torch.exp(-T[::4] / 10) * 1.1, "ab2": torch.exp(-T[::4] / 10) * 0.9})),
        "divergence_vs_steps": lambda f, a: dplots.divergence_vs_steps(a[0], sweep),
        "error_bars": lambda f, a: dplots.error_bars(a[0], sweep, steps=30),
        "order_lines": lambda f, a: dplots.order_lines(a[0], {m: [1 / n ** (j + 1) for n in steps]
                                                              for j, m in enumerate(methods)}, steps),
        "step_eigenvalue_plot": lambda f, a: dplots.step_eigenvalue_plot(
            a[0], NS(worst={"plms4": -torch.linspace(0.5, 3, 10), "hb": -torch.linspace(0.2, 1, 10)},
                     boundaries={"ab4": -0.3, "ab1": -2.0})),
        "ring_scatter": lambda f, a: dplots.ring_scatter(a[0], ring, diverged=ring[:, 1] > 0.3,
                                                         right=ring[:, 0] > 0.9, title="ring"),
        "ghvb_beta_plot": lambda f, a: dplots.ghvb_beta_plot(a[0], a[1], beta_sweep),
        "hb_error_plot": lambda f, a: dplots.hb_error_plot(a[0], beta_sweep),
        "dpm_grid_plot": lambda f, a: dplots.dpm_grid_plot(a[0], grid),
    }


def _logistic_cases():
    gammas = torch.tensor([0.1, 1.0, 10.0])
    history = NS(loss=torch.exp(-T[:, None] / gammas), accuracy=1 - torch.exp(-T[:, None] * gammas) / 2,
                 grad_norm=torch.exp(-T[:, None] / gammas), step_sizes=gammas)
    capped_h = NS(stays_separated_from=torch.tensor([20]), normalized_step=torch.exp(-T / 10)[:, None] * 3,
                  step_sizes=torch.tensor([100.0]), loss=torch.exp(-T / 10)[:, None],
                  accuracy=(0.9 + 0.1 * (T > 5))[:, None].double())
    capped = NS(plain=capped_h, capped=NS(**{**capped_h.__dict__, "stays_separated_from": torch.tensor([30])}))
    style = {("adam", 1.0): ("#1f77b4", "Adam"), ("capped", 1.0): ("#d62728", "capped Adam")}
    spikes = NS(loss=torch.exp(-T / 20)[:, None].expand(40, 4), every=5, methods=["adam", "adam", "capped", "capped"],
                factors=torch.ones(4), spike_start=50, spike_end=80, r=torch.exp(-T / 20)[:, None].expand(40, 4) * 2)
    wu_loss = torch.exp(-torch.arange(300.0) / 50)[:, None] * torch.tensor([1.0, 2.0])
    toy = NS(features=torch.tensor([[1.0, 0.5], [1.0, 0.5], [-1.0, 0.2], [0.3, -1.0]]),
             labels=torch.tensor([1.0, 1.0, -1.0, -1.0]))
    return {
        "toy_boundaries": lambda f, a: lplots.toy_boundaries(a[0], toy, torch.tensor([[0.0, 0], [1, 1], [2, -1.0]]),
                                                             steps=[1, 2], title="toy", span=2),
        "histories": lambda f, a: lplots.histories(a, history, NS(accuracy=history.accuracy[:, :1])),
        "reduction": lambda f, a: lplots.reduction(a[0], gammas, torch.tensor([1e-3, 1e-6, 1e-9]),
                                                   torch.tensor([42, 73, -1])),
        "separation_bars": lambda f, a: lplots.separation_bars(
            a[0], NS(gammas=gammas, lr_gd=torch.tensor([300, 90, -1]), normalized=torch.tensor([100, 40, 20]),
                     perceptron=86), "bars"),
        "wu_losses": lambda f, a: lplots.wu_losses(a[0], NS(history=NS(loss=wu_loss), etas=torch.tensor([1.0, 4.0]))),
        "r_traces": lambda f, a: lplots.r_traces(a[0], capped),
        "loss_traces": lambda f, a: lplots.loss_traces(a[0], capped),
        "r_sweep": lambda f, a: lplots.r_sweep(a[0], NS(r_values=torch.logspace(-1, 1, 9),
                                                        loss_ratio=torch.logspace(-1, 1, 9).repeat(3, 1) ** 2),
                                               thresholds=(1.1, 2.0)),
        "wu_rate": lambda f, a: lplots.wu_rate(a[0], NS(budgets=torch.tensor([10.0, 100, 1000]),
                                                        large_step_loss=torch.tensor([1e-2, 1e-4, 1e-6]),
                                                        fixed_loss=torch.tensor([1e-1, 1e-2, 1e-3]), c=1.0,
                                                        large_slope=-2.0, fixed_eta=1.0, fixed_slope=-1.0)),
        "margins": lambda f, a: lplots.margins(a[0], NS(normalized=0.1 * (1 - torch.exp(-T[:, None] / gammas)),
                                                        gammas=gammas, mu=0.1, perceptron=0.001,
                                                        normalized_perceptron=0.05)),
        "spike_losses": lambda f, a: lplots.spike_losses(a[0], spikes, style),
        "spike_r": lambda f, a: lplots.spike_r(a[0], spikes, style),
        "temperature_onsets": lambda f, a: lplots.temperature_onsets(
            a[0], NS(temperatures=torch.tensor([1.0, 4, 16]), tau_onset=torch.tensor([0.1, 1, 10]),
                     r_onset=torch.tensor([1.0, 1.2, 2]), tau_spread=1.5, r_spread=0.5)),
    }


def _rnn_cases():
    w = torch.linspace(3, 8, 30)
    b = torch.linspace(-4, 2, 25)
    loss = torch.exp(-(w[None] - 5) ** 2 - (b[:, None] + 1) ** 2) + 1e-3
    wall = torch.where(w > 4.2553, 0.5 - w * torch.sigmoid(torch.tensor(0.5)), torch.nan)
    valley = 0.847 - 0.7 * w
    cliff = gd(0.1, steps=5)  # any 2-D trajectory stands in for (w, b) paths
    result = NS(grad_norm=torch.exp(torch.sin(T))[:, None].expand(40, 3), eval_steps=T[::5],
                eval_error=torch.exp(-T[::5] / 10)[:, None].expand(8, 3), solved_at=torch.tensor([-1, 30, -1]),
                label=lambda r: ["MSGD seed 0", "MSGD-C seed 0", "MSGD-CR seed 0"][r])
    x = torch.linspace(-4, 6, 100)
    vanishing = {("small_init", "MSGD-C"): torch.exp(-T / 5), ("small_init", "MSGD-CR"): torch.exp(-T / 20)}
    return {
        "lines": lambda f, a: (rplots.surface(a[0], w, b, loss, "E", "E"), rplots.lines(a[0], w, wall, valley)),
        "surface": lambda f, a: rplots.surface(a[0], w, b, loss, "E", "log E", log10=True),
        "cliff_figure": lambda f, a: rplots.cliff_figure(f, a, w, b, loss, loss, wall, valley),
        "paths": lambda f, a: (rplots.surface(a[0], w, b, loss, "E", "E"),
                               rplots.paths(a[0], cliff, ["unclipped"]), plots.legend(a[0])),
        "jacobian_norms": lambda f, a: rplots.jacobian_norms(a[0], torch.exp(-T[:, None] * torch.tensor([0.1, 0.2])),
                                                             torch.exp(-T[:, None] * torch.tensor([0.05, 0.1])),
                                                             [0.9, 1.1], "tanh"),
        "grad_norms": lambda f, a: (rplots.grad_norms(a[0], result), rplots.grad_norms(a[1], result, by_method=True)),
        "eval_errors": lambda f, a: rplots.eval_errors(a[0], result, by_method=True),
        "threshold_bars": lambda f, a: rplots.threshold_bars(a[0], [0.5, 1, 2], [0.4, 0.8, 1.6], [3, 5, 4], 5),
        "bifurcation": lambda f, a: rplots.bifurcation(a[0], x, x - 5 * torch.sigmoid(x), (x < -1) | (x > 2),
                                                       ((-2.5, -1.0), (-0.8, 2.0)), torch.linspace(-4, 1, 200),
                                                       torch.full((200,), -3.0), torch.full((200,), 4.0), 5.0),
        "success_rates": lambda f, a: rplots.success_rates(a[0], [50, 100, 150], {"MSGD": [0.2, 0.1, 0.0],
                                                                                  "MSGD-C": [1.0, 0.8, 0.6]},
                                                           "temporal_order", 5),
        "vanishing_norms": lambda f, a: rplots.vanishing_norms(a[0], T, vanishing),
    }


def _core_cases():
    land, traj = _land(), _traj()
    eta = torch.logspace(-2, 0, 10)
    return {
        "contour": lambda f, a: plots.contour(a[0], land.xs, land.ys, land.values),
        "paths": lambda f, a: (plots.contour(a[0], land.xs, land.ys, land.values),
                               plots.paths(a[0], traj, labels=["GD, η = 0.4"], runs=[0])),
        "curves": lambda f, a: plots.curves(a[0], traj.loss, labels=["η = 0.4", "η = 0.6"],
                                            diverged_at=traj.diverged_at),
        "sweep": lambda f, a: plots.sweep(a[0], eta, {"theory": eta, "measured": eta * 1.1}, "η", "rate"),
    }


def _digits_cases():
    pixels = torch.linspace(-1.6, 1.6, 64).repeat(10, 1)  # a ramp past +-(1 + margin): both colour ends show
    grid = NS(methods=["ddim", "plms4"], steps=[5, 10], pictures=pixels.expand(2, 2, 10, 64))

    def whole_figure(fig, axes):
        for ax in list(fig.axes):
            ax.remove()
        fig.set_layout_engine("constrained")  # as notebook 03 draws it: a colour bar shared by the whole grid
        ddplots.sample_grid(fig, grid, margin=0.25, title="samples")

    return {
        "sample_grid": whole_figure,
        "metric_heatmap": lambda f, a: ddplots.metric_heatmap(a[0], torch.tensor([[5.0, 1.0], [40.0, 20.0]]),
                                                              ["ddim", "plms4"], [5, 10], "out of range (%)"),
        "digit_row": lambda f, a: ddplots.digit_row(a[0], pixels, torch.arange(10), title="plms4, N = 8"),
    }


CASES = {"diffusion_digits": _digits_cases,
         "plots": _core_cases, "clipping": _clipping_cases, "diffusion": _diffusion_cases, "logistic": _logistic_cases,
         "rnn": _rnn_cases}
PANELS = {("clipping", "median_tracker_picture"): 2, ("diffusion", "ghvb_beta_plot"): 2, ("logistic", "histories"): 3,
          ("rnn", "cliff_figure"): 2, ("rnn", "grad_norms"): 2,
          ("diffusion_digits", "sample_grid"): 3}  # as the notebooks draw them; others: 1 panel


def public_plot_functions(module) -> list[str]:
    return sorted(name for name, fn in inspect.getmembers(module, inspect.isfunction)
                  if fn.__module__ == module.__name__ and not name.startswith("_") and name not in HELPERS)


@pytest.mark.parametrize("family", list(MODULES))
def test_every_public_plot_function_keeps_the_figure_rules(family):
    cases = CASES[family]()
    assert sorted(cases) == public_plot_functions(MODULES[family]), "a plot function without a case here"
    problems = {}
    for name, case in cases.items():
        found = draw(case, ncols=PANELS.get((family, name), 1))
        if found:
            problems[name] = found
    assert not problems, problems


def test_the_checker_catches_what_the_rules_forbid():
    """Each rule once broken: small legend text, an empty legend, two labels in one style, an image without a colour
    bar, a legend over the data, a warning."""
    def small(fig, axes):
        axes[0].plot([0, 1], label="a")
        axes[0].legend(fontsize=7)

    def one_style(fig, axes):
        axes[0].plot([0, 1], color="C0", label="ddim")
        axes[0].plot([1, 0], color="C0", label="dpm++hb0.8")
        axes[0].legend()

    def bare_image(fig, axes):
        axes[0].imshow(np.eye(3))

    def covering(fig, axes):
        axes[0].plot(np.linspace(0, 1, 200), np.linspace(0, 1, 200), label="diagonal")
        axes[0].legend(loc="center")

    def empty(fig, axes):
        axes[0].plot([0, 1])
        axes[0].legend()  # "No artists with labels found to put in legend": the 02 widget's stderr

    assert any("7 pt" in p for p in draw(small))
    assert any("used for both" in p for p in draw(one_style))
    assert any("colour bar" in p for p in draw(bare_image))
    assert any("covers" in p for p in draw(covering))
    with pytest.raises(UserWarning, match="No artists with labels"):
        draw(empty)
    assert draw(lambda fig, axes: plots.legend(axes[0])) == []  # the helper draws no legend when nothing is labelled


@pytest.mark.parametrize("ncols, width", [(1, 6.5), (2, 4.6), (3, 4.8), (3, 4.2), (2, 6.0)])
def test_subplots_never_wider_than_jupyterlab(ncols, width):
    """Notebook 04 section 3 once asked for 3 x 4.8 = 14.4 in (1430 px, shrunk on screen): capped at MAX_WIDTH."""
    fig, _ = plots.subplots(ncols, width=width)
    try:
        assert fig.get_size_inches()[0] <= min(plots.MAX_WIDTH, ncols * width) + 1e-9
        assert plots.MAX_WIDTH * fig.dpi <= 968  # JupyterLab's output width in px: nothing is scaled down
    finally:
        plots.plt.close(fig)


def _stored_pictures():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks").glob("solutions/*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    png = base64.b64decode(output["data"]["image/png"])
                    yield f"{path.relative_to(ROOT)} cell {index}", struct.unpack(">II", png[16:24])[0]


def test_stored_notebook_pictures_fit_jupyterlab():
    """Every PNG in a stored notebook is at most 1000 px wide (10 in at 100 dpi), so it is not shrunk on screen."""
    pictures = list(_stored_pictures())
    assert len(pictures) >= 40
    wide = [(where, width) for where, width in pictures if width > 1000]
    assert not wide, wide


def test_the_style_sets_no_font_below_the_minimum():
    plots.use_style()
    for key in ("legend.fontsize", "xtick.labelsize", "ytick.labelsize", "axes.labelsize", "font.size"):
        assert mpl.font_manager.FontProperties(size=mpl.rcParams[key]).get_size_in_points() >= plots.MIN_FONT, key


# --------------------------------------------------------------------------- the notebooks' sliders
SLIDER_CLASSES = {"FloatSlider", "FloatLogSlider", "IntSlider"}
HELPER_SLIDERS = {"slider", "log_slider", "int_slider"}


def _constant(node):
    """The value of a constant expression such as ``10**-1.5`` (no names allowed)."""
    import ast

    return eval(compile(ast.Expression(node), "<slider argument>", "eval"), {"__builtins__": {}})


def _slider_calls():
    """(where, helper name, args, kwargs) of every slider made in a notebook source; raw ipywidgets sliders as
    helper name ``None``."""
    import ast

    for path in sorted((ROOT / "notebooks" / "src").glob("**/*.py")):
        lines = path.read_text().splitlines()  # IPython magics (%pip, !cmd) are not Python: parse them as pass
        code = "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!") else line
                         for line in lines)
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if node.func.attr in SLIDER_CLASSES:
                    yield where, None, (), {}
                elif node.func.attr in HELPER_SLIDERS and getattr(node.func.value, "id", "") == "sliders":
                    args = [_constant(a) for a in node.args]
                    kwargs = {k.arg: _constant(k.value) for k in node.keywords}
                    yield where, node.func.attr, args, kwargs


def test_every_notebook_slider_is_made_by_the_helper_with_its_default_on_the_grid():
    """Sliders come from steplab.plots.widgets (readable descriptions, defaults on the grid: 01's eta = 0.05 once
    showed as 0.0562 and 04's lr = 0.5 as 0.501)."""
    sliders = pytest.importorskip("steplab.plots.widgets")
    calls = list(_slider_calls())
    raw = [where for where, helper, _, _ in calls if helper is None]
    assert not raw, f"ipywidgets sliders made directly (use steplab.plots.widgets): {raw}"
    assert len(calls) >= 10
    for where, helper, args, kwargs in calls:
        widget = getattr(sliders, helper)(*args, **kwargs)
        assert sliders.on_grid(widget), where
        assert widget.style.description_width == "initial", where
        assert widget.readout_format in ("d", ".3g") or float(f"{widget.value:{widget.readout_format}}") == widget.value


def test_slider_helpers_anchor_log_grids_at_the_default_and_refuse_off_grid_defaults():
    sliders = pytest.importorskip("steplab.plots.widgets")
    ipywidgets = pytest.importorskip("ipywidgets")
    eta = sliders.log_slider(0.05, 1e-3, 10**-0.5, "step size η")
    grid = [10 ** (eta.min + k * eta.step) for k in range(round((eta.max - eta.min) / eta.step) + 1)]
    assert grid == pytest.approx([0.05 / 32, 0.05 / 16, 0.05 / 8, 0.05 / 4, 0.05 / 2, 0.05, 0.1, 0.2])
    assert sliders.on_grid(eta)
    snapped = ipywidgets.FloatLogSlider(value=0.05, base=10, min=-3, max=-0.5, step=0.25)  # 01's old slider
    assert not sliders.on_grid(snapped)
    with pytest.raises(ValueError, match="not on its grid"):
        sliders.slider(0.43, 0.05, 0.9, 0.05, "step size η")
    with pytest.raises(ValueError, match="not on its grid"):
        sliders.int_slider(25, 10, 1000, 10, "steps")
