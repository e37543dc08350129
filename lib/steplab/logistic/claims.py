"""The large-step logistic regression claims (Tyurin 2025; Wu et al. 2024; Sao 2026), one per experiment.

Importing this module registers them; ``python -m steplab.verify logistic`` prints the table. Every claim calls
one function of :mod:`steplab.logistic.experiments` or :mod:`steplab.logistic.studies` and states its thresholds
once, through the :mod:`steplab.claims` helpers. Here: what the papers state (Table 1's 2/2/16/157 and 308 are
Tyurin's numbers). The exact counts of our own runs (separation times on digits, the Wu et al. toy's counts) are
regression checks, registered in :mod:`steplab.logistic.regression_claims`.
"""

from __future__ import annotations

import math

from steplab.claims import Check, Result, between, close, combine, count_between, register, yes
from steplab.logistic import experiments as ex
from steplab.logistic import studies, theory

TYURIN = "A. Tyurin, AAAI 2025 (arXiv 2412.08424)"
WU = "Wu, Bartlett, Telgarsky, Yu, COLT 2024"
SAO = "Sao 2026, Ghosts of Softmax (arXiv 2603.13552)"


REGRESSION = "steplab regression (our runs)"


def _matches(label: str, values, targets, tolerance: float = 0, fmt: str = "d") -> Check:
    """Every value within ``tolerance`` of its target (exactly equal when 0), e.g. separation times."""
    values, targets = list(values), list(targets)
    passed = len(values) == len(targets) and all(abs(v - t) <= tolerance for v, t in zip(values, targets))
    spread = f" ± {tolerance:g}" if tolerance else ""
    return Check(f"{label} = {'/'.join(format(t, fmt) for t in targets)}{spread}",
                 f"{label} = {'/'.join(format(v, fmt) for v in values)}", passed)


def yes_check(label: str, condition: bool) -> Check:
    """A boolean condition as a check: expected 'yes', measured 'yes'/'NO'."""
    return Check(f"{label}: yes", f"{label}: {yes(condition)}", bool(condition))


@register("logistic.margin_radius", paper=TYURIN, source="Assumption 1.1, Thm 5.1; Thm 3.3",
          statement="Thm 5.1 set (n=1000): mu=0.5, R=sqrt(1.25), nR^2/mu^2=5000 (Batch Perceptron's 301: our "
                    "regression value)")
def _margin_radius() -> Result:
    m = ex.margins_and_radii(1000)
    return combine(close("mu", m.worst_case_mu, 0.5, 1e-9, ".4f"),
                   close("R", m.worst_case_radius, math.sqrt(1.25), 1e-12, ".4f"),
                   _matches("BP", [m.worst_case_perceptron], [301]),
                   close("n R^2/mu^2", m.worst_case_bound, 5000, 1e-3, ".0f"),
                   close("Wu mu", m.wu_mu, 0.2, 1e-9, ".4f"),
                   between("Wu direction . e2", float(m.wu_direction[1]), low=1 - 1e-9, fmt=".9f", show_value=False))


@register("logistic.thm41_loss_unreliable", paper=TYURIN, source="Thm 4.1",
          statement="gamma=100 on the Thm 4.1 toy: f(theta_1)=12.5 explodes, theta_2 separates with f < 1e-30")
def _thm41() -> Result:
    h = ex.thm41()
    f1 = float(h.loss[1, 0])
    return combine(close("f1 - closed form", f1 - float(theory.thm41_first_loss(100.0)), 0, 1e-9, ".1g",
                         show_value=False),
                   close("f1", f1, 12.5, 0.05, ".3f"),
                   between("f2", float(h.loss[2, 0]), high=1e-30, fmt=".1e"),
                   _matches("acc t=0/1/2", h.accuracy[:, 0].tolist(), [0.0, 0.5, 1.0], fmt="g"),
                   between("|grad f1|", float(h.grad_norm[1, 0]), 0.70, 0.71, fmt=".4g"))


@register("logistic.reduction_batch_perceptron", paper=TYURIN, source="Thm 3.2 (under Assumption 3.1), digits 3 vs 8",
          statement="theta_t/gamma -> hat theta_t: at gamma=1e8 LR+GD has the Batch Perceptron's sign pattern at "
                    "every iterate and separates when it does; the distance shrinks with gamma")
def _reduction() -> Result:
    red = ex.reduction()  # gammas 1e2, 1e4, 1e6, 1e8
    t_bp = int(red.perceptron.separated_at[0])
    return combine(_matches("first mismatch at 1e8 (-1: none)", [int(red.first_mismatch[3])], [-1]),
                   yes_check("sep(1e8) = sep(BP)", int(red.lr_gd.separated_at[3]) == t_bp),
                   between("max distance 1e8", float(red.max_distance[3]), high=1e-12, fmt=".0e", show_value=False),
                   between("max distance 1e2", float(red.max_distance[0]), low=1e-12, fmt=".0e", show_value=False))


@register("logistic.reduction_gaussian", paper=TYURIN, source="Thm 3.2, Gaussian data n=200, d=10",
          statement="On separable Gaussian data max_t ||theta_t/gamma - hat theta_t|| <= 1e-15 already at gamma=1e6")
def _reduction_gaussian() -> Result:
    red = ex.reduction("gaussian", (1e2, 1e4, 1e6))
    return combine(close("max_t distance at 1e6", float(red.max_distance[2]), 0, 1e-15, show_value=False))


@register("logistic.loss_unreliable_digits", paper=TYURIN, source="Figs. 1, 4 analogue, digits 3 vs 8",
          statement="Separation time falls 10x per decade of gamma up to gamma=10, then levels off at the Batch "
                    "Perceptron's (82/83/87 vs 86) and stays; the loss at t=10 is 50x worse at gamma=100")
def _loss_unreliable() -> Result:
    sweep = ex.digits_sweep("digits_3v8")
    sep, loss10 = sweep.separation_times(), sweep.loss_at(10)
    stays = dict(zip(sweep.lr_gd.step_sizes.tolist(), sweep.lr_gd.stays_separated_from.tolist()))
    t_bp = int(sweep.perceptron.separated_at[0])
    large = (10.0, 100.0, 1e4)
    return combine(close("t_sep(0.1)/t_sep(1)", sep[0.1] / sep[1.0], 10.0, 0.5, ".2f"),
                   between("t_sep(1)/t_sep(100)", sep[1.0] / sep[100.0], low=3, fmt=".3g"),
                   _matches("t_sep - t_BP at 10/100/1e4", [sep[g] - t_bp for g in large], [0, 0, 0], tolerance=4),
                   yes_check("stays separated from t_sep (0.1..1e4)", all(stays[g] == sep[g] for g in sep if g >= 0.1)),
                   between("L10(100)/L10(1)", loss10[100.0] / loss10[1.0], low=50, fmt=".0f"))


@register("logistic.table1_worst_case", paper=TYURIN, source="Table 1, Thm 5.1 row, n = 1000",
          statement="Thm 5.1 set: Normalized LR+GD separates in 2/2/16/157 steps (gamma=100/10/1/0.1), "
                    "LR+GD(100) in 308")
def _table1() -> Result:
    table = ex.table1_worst_case(1000)
    return combine(_matches("Normalized", table.normalized.tolist(), [2, 2, 16, 157]),
                   _matches("LR+GD(100)", [int(table.lr_gd[0])], [308]))


@register("logistic.imbalanced_digits", paper=TYURIN, source="Table 1, imbalanced row analogue",
          statement="Imbalanced digits (183 threes, 17 eights): Normalized LR+GD separates sooner than LR+GD "
                    "for gamma<=1, counted at first separation and from when it stays separated")
def _imbalanced() -> Result:
    table = ex.table1_imbalanced()  # gammas 100, 10, 1, 0.1
    lr, nm = table.lr_gd.tolist(), table.normalized.tolist()
    lr_stay, nm_stay = table.lr_gd_stays.tolist(), table.normalized_stays.tolist()
    return combine(count_between("runs separated", sum(t > 0 for t in lr + nm), len(lr + nm), low=len(lr + nm)),
                   between("LR+GD/Normalized t_sep at gamma=1", lr[2] / nm[2], low=1, fmt=".3g"),
                   between("at gamma=0.1", lr[3] / nm[3], low=1, fmt=".3g"),
                   between("stays-separated ratio at gamma=1", lr_stay[2] / nm_stay[2], low=1, fmt=".3g",
                           show_value=False),
                   between("at gamma=0.1", lr_stay[3] / nm_stay[3], low=1, fmt=".3g", show_value=False))


def _plain_wins(name: str):
    """(BP < NBP, best first separation of LR+GD < Normalized's, the same for stays-separated times)."""
    table = studies.balanced_table(name)  # gammas 100, 10, 1, 0.1

    def best(times):
        return int(times[times > 0].min())

    return (table.perceptron < table.normalized_perceptron, best(table.lr_gd) < best(table.normalized),
            best(table.lr_gd_stays) < best(table.normalized_stays))


@register("logistic.balanced_4v9", paper=TYURIN, source="Figs. 6-7, Table 1 balanced row analogue, digits 4 vs 9",
          statement="Balanced digits 4 vs 9: plain Batch Perceptron beats the Normalized one, and the best plain "
                    "LR+GD beats the best Normalized LR+GD (as on Tyurin's balanced FashionMNIST)")
def _balanced_4v9() -> Result:
    bp, lr, lr_stay = _plain_wins("digits_4v9")
    return combine(yes_check("BP < NBP", bp), yes_check("best LR+GD < best Normalized (first)", lr),
                   yes_check("(stays separated)", lr_stay))


@register("logistic.balanced_3v8", paper=TYURIN, source="Figs. 6-7, Table 1 balanced row analogue, digits 3 vs 8",
          statement="Balanced digits 3 vs 8: plain beats normalized (Tyurin). Here the Normalized methods separate "
                    "first; only counted by 'stays separated' does plain LR+GD win", reproduced=False)
def _balanced_3v8() -> Result:
    bp, lr, lr_stay = _plain_wins("digits_3v8")
    return combine(yes_check("NBP < BP", not bp), yes_check("best Normalized < best LR+GD (first)", not lr),
                   yes_check("best LR+GD < best Normalized (stays)", lr_stay))


@register("logistic.implicit_bias", paper=TYURIN, source="Sec. 8 (implicit bias needs gamma < inf), digits 3 vs 8",
          statement="At T=3000 the normalized margin min_i m_i/||theta|| is > 0.5 mu for gamma=1, 10, shrinks for "
                    "gamma=100, and is < 0.05 mu at gamma=1e4 and for the Batch Perceptron")
def _implicit_bias() -> Result:
    m = studies.margins("digits_3v8")
    ratio = dict(zip(m.gammas.tolist(), (m.normalized[-1] / m.mu).tolist()))
    return combine(between("margin/mu at gamma=1, 10 (min)", min(ratio[1.0], ratio[10.0]), low=0.5, fmt=".2f"),
                   between("margin(100)/margin(10)", ratio[100.0] / ratio[10.0], high=1 / 3, fmt=".2f"),
                   between("margin/mu at gamma=1e4", ratio[1e4], high=0.05, fmt=".3f"),
                   between("Batch Perceptron margin/mu", m.perceptron / m.mu, high=0.05, fmt=".3f"))


@register("logistic.wu_two_phases", paper=WU, source="Thm (EoS + stable phase); 4-point toy of Bao et al. Fig. 1",
          statement="Small eta: monotone loss; large eta (10, 30, 100): the loss oscillates for a short phase "
                    "(ends by t=15), then decreases monotonically")
def _wu() -> Result:
    wu = ex.wu_phases()
    k = {float(e): i for i, e in enumerate(wu.etas)}
    large = [k[e] for e in (10.0, 30.0, 100.0)]
    return combine(count_between("eta<=4 monotone", sum(int(wu.increases[k[e]]) == 0 for e in (0.1, 1.0, 4.0)), 3,
                                 low=3),
                   count_between("eta>=10 oscillate", sum(int(wu.increases[i]) > 0 for i in large), 3, low=3),
                   between("last increase, eta>=10", max(int(wu.last_increase[i]) for i in large), high=16, fmt="d"))


@register("logistic.wu_rate", paper=WU, source="abstract (eta = Theta(T) gives O~(1/T^2)), digits 4 vs 9",
          statement="With eta=0.1T, L(T) falls at least as fast as 1/T^2 (fitted log-log slope < -1.9); with fixed "
                    "eta=1 like ~1/T (slope in (-1.1, -0.6)); the large step is lower at every T")
def _wu_rate() -> Result:
    w = studies.wu_rate()
    return combine(between("slope eta=0.1T", w.large_slope, high=-1.9, fmt=".1f"),
                   between("slope eta=1", w.fixed_slope, -1.1, -0.6, fmt=".1f"),
                   count_between("T with L_large < L_fixed", int((w.large_step_loss < w.fixed_loss).sum()),
                                 len(w.budgets), low=len(w.budgets)))


@register("logistic.ghosts_capped_gd", paper=SAO, source="Def. 5.1, Prop. 5.2 on LR+GD, digits 3 vs 8",
          statement="The rho_a controller keeps r_t <= 1 and the loss <= ln 2; plain gamma=100 steps far beyond the "
                    "radius (r_t > 100, also by the exact radius of Thm 4.3), yet separates")
def _capped() -> Result:
    c = ex.capped_vs_plain()
    return combine(between("capped max r", float(c.capped.normalized_step.max()), high=1 + 1e-9, fmt=".0e",
                           show_value=False),
                   between("capped max loss - ln 2", c.capped_loss_max - theory.LOSS_AT_ZERO, high=1e-12, fmt=".0e",
                           show_value=False),
                   between("plain max r", c.plain_r_max, low=100, fmt=".0f", show_value=False),
                   between("plain max exact r", c.plain_exact_r_max, low=100, fmt=".0f", show_value=False),
                   yes_check("plain separated", int(c.plain.separated_at[0]) > 0))


@register("logistic.ghosts_r_onsets", paper=SAO, source="Figs. 1, 7, 8 analogue (onset: ratio 1.1; 2.0 random)",
          statement="One step of r*rho_a on trained softmax regression: the onset along -grad (ratio > 1.1) and "
                    "along 10 random directions (ratio > 2) lies in r in [1, 10]")
def _r_onsets() -> Result:
    trained = ex.trained_softmax()
    o = studies.onsets()
    inside = int(((o.random_onsets >= 1) & (o.random_onsets <= 10)).sum())
    return combine(between("train loss", trained.train_loss, high=5e-3, fmt=".1e"),
                   between("test acc", trained.test_accuracy, low=0.97, fmt=".3f"),
                   between("-grad onset r", o.grad_onset, 1, 10, fmt="g"),
                   count_between("random onsets in [1, 10]", inside, len(o.random_onsets), low=len(o.random_onsets)))


def _spike_groups():
    s = studies.spike_runs()
    e, start, end = s.every, s.spike_start, s.spike_end
    peak = s.loss[start // e:end // e + 1].amax(0) / s.loss[start // e]
    groups = {}
    for i, (method, factor) in enumerate(zip(s.methods, s.factors.tolist())):
        groups.setdefault((method, factor), []).append(i)
    return s, peak, groups


@register("logistic.ghosts_spike", paper=SAO, source="Fig. 6, Table 1 (LR spike), MLP 64-128-10 on digits",
          statement="Adam with a x1000 / x1e4 LR spike for 150 steps (5 seeds): plain Adam collapses, the rho_a "
                    "controller never raises the loss and keeps > 95% test accuracy")
def _spike() -> Result:
    s, peak, groups = _spike_groups()
    acc = s.test_accuracy
    rho = groups[("rho", 1e3)] + groups[("rho", 1e4)]
    return combine(count_between("rho runs with acc > 0.95", int((acc[rho] > 0.95).sum()), len(rho), low=len(rho)),
                   count_between("rho runs never above the spike-start loss", int((peak[rho] <= 1 + 1e-9).sum()),
                                 len(rho), low=len(rho)),
                   between("plain x1e3 median acc", float(acc[groups[("plain", 1e3)]].median()), high=0.6, fmt=".1f"),
                   between("plain x1e4 median acc", float(acc[groups[("plain", 1e4)]].median()), high=0.3, fmt=".1f"))


@register("logistic.ghosts_spike_clip", paper=SAO, source="Table 1 (clip ||g|| <= 1 baseline)",
          statement="Clipping ||g|| <= 1 does not save Adam from the spike (Sao: 10-52% accuracy); here clipped runs "
                    "keep a median test accuracy > 85% but end with a training loss > 1", reproduced=False)
def _spike_clip() -> Result:
    s, _, groups = _spike_groups()
    clip = groups[("clip", 1e3)] + groups[("clip", 1e4)]
    return combine(between("clip x1e3 median acc", float(s.test_accuracy[groups[("clip", 1e3)]].median()), low=0.85,
                           fmt=".2f", show_value=False),
                   between("clip x1e4 median acc", float(s.test_accuracy[groups[("clip", 1e4)]].median()), low=0.85,
                           fmt=".2f", show_value=False),
                   count_between("clip runs with final loss > 1", int((s.loss[-1, clip] > 1).sum()), len(clip),
                                 low=len(clip)))


@register("logistic.ghosts_temperature", paper=SAO, source="Fig. 9 analogue (temperatures 0.25..64)",
          statement="Onsets measured in r_T = tau Delta_a/(pi T) spread less than half as much (std of log10) as in "
                    "raw step length tau (Sao: 0.164 vs 0.992)")
def _temperature() -> Result:
    t = studies.temperature_sweep()
    return combine(between("std log10 r / std log10 tau", t.r_spread / t.tau_spread, high=0.5, fmt=".1f"),
                   between("std log10 tau", t.tau_spread, low=1, fmt=".1f"))


from steplab.logistic import regression_claims  # noqa: E402, F401  (registers the regression checks after these)
