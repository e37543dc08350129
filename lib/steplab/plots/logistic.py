"""Figures for notebook 02 (large-step logistic regression). Plotting only: the maths is in steplab.logistic."""

from __future__ import annotations

import math

import numpy as np

from steplab.plots import COLORS, MIN_FONT, legend, plt, to_numpy


def gamma_label(gamma: float) -> str:
    return f"γ = {gamma:g}"


def toy_boundaries(ax, dataset, weights, steps=None, title: str | None = None, span: float | None = None):
    """The 2-D points (+1 blue, -1 red) and the lines theta_t^T x = 0 for the given steps (later = darker)."""
    x, y = to_numpy(dataset.features), to_numpy(dataset.labels)
    unique, counts = np.unique(np.c_[x, y], axis=0, return_counts=True)
    for row, count in zip(unique, counts):
        color = COLORS[0] if row[2] > 0 else COLORS[1]
        ax.scatter(row[0], row[1], s=40 + 6 * math.log(count), color=color, marker="o" if row[2] > 0 else "s",
                   zorder=3, label=f"×{count}" if count > 1 else None)
    span = span or 1.3 * float(np.abs(x).max())
    weights = to_numpy(weights)
    steps = list(range(1, len(weights))) if steps is None else list(steps)
    for k, t in enumerate(steps):
        w = weights[t]
        shade = 0.25 + 0.75 * (k + 1) / len(steps)
        if np.linalg.norm(w) == 0:
            continue
        direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
        line = np.outer([-2 * span, 2 * span], direction)
        label = f"θ_{t}ᵀx = 0" if len(steps) <= 4 else None
        ax.plot(line[:, 0], line[:, 1], color="k", alpha=shade, lw=1.2, label=label)
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_xlabel("$a_1$")
    ax.set_ylabel("$a_2$")
    if title:
        ax.set_title(title)
    legend(ax, loc="lower right")
    return ax


def histories(axes, history, perceptron=None, quantities=("loss", "accuracy", "grad_norm"), max_step=None,
              floor: float = 1e-12):
    """Loss / accuracy / ||grad f|| against t for every gamma of ``history`` (and a Batch Perceptron overlay);
    loss and ||grad f|| below ``floor`` are not drawn (a triangle marks where a run drops below it)."""
    labels = {"loss": "training loss f(θ_t)", "accuracy": "training accuracy", "grad_norm": "‖∇f(θ_t)‖"}
    for ax, name in zip(axes, quantities):
        values = to_numpy(getattr(history, name))
        t = np.arange(values.shape[0]) if max_step is None else np.arange(min(values.shape[0], max_step + 1))
        for r, gamma in enumerate(to_numpy(history.step_sizes)):
            color = COLORS[r % len(COLORS)]
            if name == "accuracy":
                ax.plot(t, values[t, r], color=color, lw=1.0, label=gamma_label(gamma))
                continue
            below = values[t, r] < floor  # not drawn: on the log axis a drop to ~0 would be a vertical line
            ax.plot(t, np.where(below, np.nan, values[t, r]), color=color, lw=1.0, label=gamma_label(gamma))
            if below.any():
                ax.plot(t[np.argmax(below)], floor, "v", color=color, ms=5)
        if perceptron is not None and name == "accuracy":
            ax.plot(t, to_numpy(perceptron.accuracy)[t, 0], "k--", lw=1.2, label="Batch Perceptron")
        if name != "accuracy":
            ax.set_yscale("log")
            ax.set_ylim(bottom=floor)
            ax.annotate(f"▼ drops below {floor:.0e}", (0.98, 0.02), xycoords="axes fraction", ha="right",
                        fontsize=MIN_FONT)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, t[-1])
        ax.set_xlabel("iteration t")
        ax.set_ylabel(labels[name])
    legend(axes[1] if len(axes) > 1 else axes[0], outside=True, ncol=4)  # the gammas (+ perceptron), below
    return axes


def reduction(ax, gammas, max_distance, mismatch=None):
    """max_t ||theta_t/gamma - hat theta_t|| against gamma, log-log."""
    gammas, distance = to_numpy(gammas), np.maximum(to_numpy(max_distance), 1e-17)
    ax.loglog(gammas, distance, "o-", label="digits 3 vs 8")
    ax.set_xlabel("step size γ")
    ax.set_ylabel("max_t ‖θ_t/γ − θ̂_t‖")
    ax.set_title("LR+GD / γ → Batch Perceptron (Thm 3.2)")
    if mismatch is not None:
        for g, d, m in zip(gammas, distance, to_numpy(mismatch)):
            ax.annotate("same signs" if m < 0 else f"t={m}", (g, d), textcoords="offset points", xytext=(4, 4),
                        fontsize=MIN_FONT)
    return ax


def separation_bars(ax, table, title: str):
    """Iterations to separate for LR+GD and Normalized LR+GD per gamma (log y)."""
    gammas = to_numpy(table.gammas)
    x = np.arange(len(gammas))
    for k, (name, values) in enumerate((("LR+GD", table.lr_gd), ("Normalized LR+GD", table.normalized))):
        v = to_numpy(values).astype(float)
        v[v < 0] = np.nan
        bars = ax.bar(x + (k - 0.5) * 0.38, v, width=0.38, label=name, color=COLORS[k])
        ax.bar_label(bars, labels=["—" if np.isnan(b) else f"{int(b)}" for b in v], fontsize=MIN_FONT)
    ax.axhline(table.perceptron, color="k", ls="--", lw=1, label=f"Batch Perceptron ({table.perceptron})")
    ax.set_xticks(x, [gamma_label(g) for g in gammas])
    ax.set_yscale("log")
    ax.set_ylabel("iterations to separate")
    ax.set_title(title)
    legend(ax, outside=True)
    return ax


def wu_losses(ax, wu, reference_etas=(1.0, 4.0, 10.0)):
    """Loss vs t on log-log axes per eta, with a c/(eta t) reference (dotted) for ``reference_etas``."""
    loss = to_numpy(wu.history.loss)
    t = np.arange(1, loss.shape[0])
    for r, eta in enumerate(to_numpy(wu.etas)):
        color = COLORS[r % len(COLORS)]
        ax.loglog(t, loss[1:, r], color=color, lw=1.0, label=f"η = {eta:g}")
        if eta in reference_etas:
            ax.loglog(t[100:], loss[-1, r] * t[-1] / t[100:], color=color, ls=":", lw=0.8)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("L(w_t)")
    ax.set_title("Wu et al. toy: oscillation, then monotone (dotted: ∝ 1/t)")
    legend(ax)
    return ax


def r_traces(ax, capped):
    """Normalized step r_t for plain LR+GD and rho_a-capped GD, up to the time each stays separated (dotted)."""
    for k, (name, h) in enumerate((("plain LR+GD", capped.plain), ("ρ_a-capped GD", capped.capped))):
        t_sep = int(h.stays_separated_from[0])
        r = to_numpy(h.normalized_step[:t_sep, 0])
        ax.semilogy(np.arange(t_sep), r, color=COLORS[k], label=f"{name} (γ = {float(h.step_sizes[0]):g})")
        ax.axvline(t_sep, color=COLORS[k], ls=":", lw=1)
    ax.axhline(1, color="k", lw=0.8, ls="--", label="r = 1 (step = ρ_a)")
    ax.set_xlabel("iteration t (dotted: stays separated from)")
    ax.set_ylabel("normalized step r_t = τ_t / ρ_a")
    legend(ax)
    return ax


def loss_traces(ax, capped):
    """Loss (solid) and accuracy (dotted, right axis) of plain and capped GD until each stays separated; each run
    keeps its colour of :func:`r_traces`; one legend for both axes, below them."""
    twin = ax.twinx()
    twin.grid(False)
    for k, (name, h) in enumerate((("plain LR+GD", capped.plain), ("ρ_a-capped GD", capped.capped))):
        t_sep = int(h.stays_separated_from[0])
        ax.semilogy(np.arange(t_sep + 1), to_numpy(h.loss[: t_sep + 1, 0]), color=COLORS[k], label=f"{name}: loss")
        twin.plot(np.arange(t_sep + 1), to_numpy(h.accuracy[: t_sep + 1, 0]), color=COLORS[k], ls=":", lw=1.0,
                  label=f"{name}: accuracy")
    ax.axhline(math.log(2), color="k", lw=0.8, ls="--", label="f(0) = ln 2")
    twin.set_ylabel("training accuracy (dotted)")
    twin.set_ylim(0.9, 1.005)
    ax.set_xlabel("iteration t (until it stays separated)")
    ax.set_ylabel("training loss")
    legend(ax, outside=True, also=[twin])
    return ax


def r_sweep(ax, sweep, quantity: str = "loss_ratio", thresholds=()):
    """Loss ratio (or test accuracy kept) after one step r rho_a, per direction (row 0 = -grad f)."""
    r = to_numpy(sweep.r_values)
    values = to_numpy(getattr(sweep, quantity))
    for k in range(values.shape[0]):
        label = "−∇f" if k == 0 else ("random directions" if k == 1 else None)
        ax.plot(r, values[k], "o-" if k == 0 else "s--", color=COLORS[0] if k == 0 else "grey", label=label, ms=4)
    ax.axvline(1, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    if quantity == "loss_ratio":
        ax.set_yscale("log")
        ax.axhline(1, color="k", lw=0.8)
        for value, style in zip(thresholds, ("--", "-.")):
            ax.axhline(value, color="k", lw=0.8, ls=style, label=f"onset threshold {value:g}")
        ax.set_ylabel("loss after / loss before")
    else:
        ax.set_ylabel("test accuracy kept")
    ax.set_xlabel("normalized step r = τ / ρ_a")
    legend(ax)
    return ax


def wu_rate(ax, rate):
    """L(w_T) against the budget T for eta = c T and for a fixed eta, log-log, with the fitted slopes."""
    T = to_numpy(rate.budgets)
    ax.loglog(T, to_numpy(rate.large_step_loss), "o-", color=COLORS[0],
              label=f"η = {rate.c:g}·T (slope {rate.large_slope:.1f})")
    ax.loglog(T, to_numpy(rate.fixed_loss), "s-", color=COLORS[1], label=f"η = {rate.fixed_eta:g} (slope "
              f"{rate.fixed_slope:.1f})")
    ref = to_numpy(rate.large_step_loss)[0] * (T / T[0]) ** -2.0
    ax.loglog(T, ref, "k:", lw=0.8, label="∝ 1/T² (reference)")
    ax.set_xlabel("step budget T")
    ax.set_ylabel("loss after T steps, L(w_T)")
    legend(ax)
    return ax


def margins(ax, m):
    """Normalized margin min_i m_i / ||theta_t|| over t per gamma, against mu and the Batch Perceptron's."""
    values = to_numpy(m.normalized)
    t = np.arange(1, values.shape[0])
    for r, gamma in enumerate(to_numpy(m.gammas)):
        ax.plot(t, values[1:, r], color=COLORS[r % len(COLORS)], lw=1.0, label=gamma_label(gamma))
    ax.axhline(m.mu, color="k", lw=1.0, label=f"max-margin μ = {m.mu:.3f}")
    ax.axhline(m.perceptron, color="k", ls="--", lw=1.0, label=f"Batch Perceptron ({m.perceptron:.4f})")
    ax.axhline(m.normalized_perceptron, color="k", ls=":", lw=1.0,
               label=f"Normalized Batch Perceptron ({m.normalized_perceptron:.3f})")
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.1 * m.mu)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("normalized margin min_i m_i / ‖θ_t‖")
    legend(ax, outside=True)
    return ax


def spike_losses(ax, runs, methods_style):
    """Training loss over steps of every spike run (one colour per method and factor), the spike shaded."""
    loss = to_numpy(runs.loss)
    steps = np.arange(loss.shape[0]) * runs.every
    seen = set()
    for i, (method, factor) in enumerate(zip(runs.methods, to_numpy(runs.factors))):
        key = (method, float(factor))
        color, label = methods_style[key]
        ax.semilogy(steps, loss[:, i], color=color, lw=0.8, label=None if key in seen else label)
        seen.add(key)
    ax.axvspan(runs.spike_start, runs.spike_end, color="grey", alpha=0.15, lw=0, label="spike")
    ax.set_xlabel("Adam step")
    ax.set_ylabel("training cross-entropy")
    legend(ax, outside=True)
    return ax


def spike_r(ax, runs, methods_style):
    """Normalized step r_t = ||p_t|| / rho_a of Adam's uncapped update, median over seeds."""
    r = to_numpy(runs.r)
    for key, (color, label) in methods_style.items():
        cols = [i for i, (m, f) in enumerate(zip(runs.methods, to_numpy(runs.factors))) if (m, float(f)) == key]
        ax.semilogy(np.arange(r.shape[0]), np.median(r[:, cols], axis=1), color=color, lw=0.9, label=label)
    ax.axhline(1, color="k", lw=0.8, ls="--", label="r = 1")
    ax.axvspan(runs.spike_start, runs.spike_end, color="grey", alpha=0.15, lw=0)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("r_t = ‖p_t‖ / ρ_a (median of 5 seeds)")
    legend(ax, outside=True)
    return ax


def temperature_onsets(ax, temps):
    """Onset of the one-step loss increase against temperature, in raw tau and in r_T."""
    T = to_numpy(temps.temperatures)
    ax.loglog(T, to_numpy(temps.tau_onset), "o-", color=COLORS[0],
              label=f"raw step length τ (std log10 = {temps.tau_spread:.2f})")
    ax.loglog(T, to_numpy(temps.r_onset), "s-", color=COLORS[1],
              label=f"normalized r_T = τΔ_a/(πT) (std log10 = {temps.r_spread:.2f})")
    ax.set_xlabel("temperature T (logits / T)")
    ax.set_ylabel("onset (loss ratio > 1.1)")
    legend(ax)
    return ax


def close(fig):
    fig.tight_layout()
    plt.show()
