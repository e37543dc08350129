"""The large-step logistic regression claims (Tyurin 2025; Wu et al. 2024; Sao 2026), one per experiment.

Importing this module registers them; ``python -m steplab.verify logistic`` prints the table. Every claim calls
one function of :mod:`steplab.logistic.experiments` and states its thresholds once, through the
:mod:`steplab.claims` helpers. Counts on sklearn digits, and the Wu et al. toy's counts, are our regression
values (the papers run other data); Table 1's 2/2/16/157 and 308 are Tyurin's.
"""

from __future__ import annotations

import math

from steplab.claims import Check, Result, between, close, combine, count_between, register
from steplab.logistic import experiments as ex
from steplab.logistic import theory

TYURIN = "Tyurin, AAAI 2025 (arXiv 2412.08424)"
WU = "Wu, Bartlett, Telgarsky, Yu, COLT 2024"
SAO = "Sao 2026, Ghosts of Softmax (arXiv 2603.13552)"


def _matches(label: str, values, targets, tolerance: float = 0, fmt: str = "d") -> Check:
    """Every value within ``tolerance`` of its target (exactly equal when 0), e.g. separation times."""
    values, targets = list(values), list(targets)
    passed = len(values) == len(targets) and all(abs(v - t) <= tolerance for v, t in zip(values, targets))
    spread = f" ± {tolerance:g}" if tolerance else ""
    return Check(f"{label} = {'/'.join(format(t, fmt) for t in targets)}{spread}",
                 f"{label} = {'/'.join(format(v, fmt) for v in values)}", passed)


@register("logistic.margin_radius", paper=TYURIN, source="Assumption 1.1, Thm 5.1; Thm 3.3",
          statement="Thm 5.1 set (n=1000): mu=0.5, R=sqrt(1.25); Batch Perceptron needs 301 << nR^2/mu^2=5000")
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


@register("logistic.reduction_batch_perceptron", paper=TYURIN, source="Thm 3.2, digits 3 vs 8",
          statement="LR+GD at gamma=1e8 has Batch Perceptron's sign pattern at all 86 iterates; "
                    "mismatch at 73 (1e6), 42 (1e4) (our regression values)")
def _reduction() -> Result:
    red = ex.reduction()  # gammas 1e2, 1e4, 1e6, 1e8
    times = ex.perceptron_times()
    return combine(_matches("BP/NBP", [times.batch_perceptron, times.normalized_batch_perceptron], [86, 49]),
                   _matches("first mismatch 1e4/1e6/1e8 (-1: none)", red.first_mismatch[1:].tolist(), [42, 73, -1]),
                   _matches("sep(1e8)", [int(red.lr_gd.separated_at[3])], [86]),
                   between("min|m|", red.smallest_abs_margin, 5e-6, 6e-6, fmt=".2g"))


@register("logistic.reduction_gaussian", paper=TYURIN, source="Thm 3.2, Gaussian data n=200, d=10",
          statement="On separable Gaussian data max_t ||theta_t/gamma - hat theta_t|| <= 1e-15 already at gamma=1e6")
def _reduction_gaussian() -> Result:
    red = ex.reduction("gaussian", (1e2, 1e4, 1e6))
    return combine(close("max_t distance at 1e6", float(red.max_distance[2]), 0, 1e-15, show_value=False))


@register("logistic.loss_unreliable_digits", paper=TYURIN, source="Figs. 1, 4 analogue, digits 3 vs 8",
          statement="Larger gamma separates sooner (2779/278/82/83/87 for 0.1..1e4, our regression values) while "
                    "the loss at t=10 is worse")
def _loss_unreliable() -> Result:
    sweep = ex.digits_sweep("digits_3v8")
    sep, loss10 = sweep.separation_times(), sweep.loss_at(10)
    return combine(_matches("t_sep 0.1/1/10/100/1e4", [sep[g] for g in (0.1, 1.0, 10.0, 100.0, 1e4)],
                            [2779, 278, 82, 83, 87]),
                   close("t_sep(0.1)/t_sep(1)", sep[0.1] / sep[1.0], 10.0, 0.5, ".2f"),
                   between("t_sep(1)/t_sep(100)", sep[1.0] / sep[100.0], low=3, fmt=".3g"),
                   between("L10(100)/L10(1)", loss10[100.0] / loss10[1.0], low=50, fmt=".0f"))


@register("logistic.digits_4v9", paper=TYURIN, source="Figs. 2-3 analogue, digits 4 vs 9",
          statement="Digits 4 vs 9: Batch Perceptron separates at 18; LR+GD at gamma=1/10/100/1e4 at 281/28/17/18 "
                    "(our regression values)")
def _digits_4v9() -> Result:
    sweep = ex.digits_sweep("digits_4v9")
    sep = sweep.separation_times()
    return combine(_matches("BP", [int(sweep.perceptron.separated_at[0])], [18]),
                   _matches("t_sep 1/10/100/1e4", [sep[g] for g in (1.0, 10.0, 100.0, 1e4)], [281, 28, 17, 18],
                            tolerance=2))


@register("logistic.table1_worst_case", paper=TYURIN, source="Table 1, Thm 5.1 row, n = 1000",
          statement="Thm 5.1 set: Normalized LR+GD separates in 2/2/16/157 steps (gamma=100/10/1/0.1), "
                    "LR+GD(100) in 308")
def _table1() -> Result:
    table = ex.table1_worst_case(1000)
    return combine(_matches("Normalized", table.normalized.tolist(), [2, 2, 16, 157]),
                   _matches("LR+GD(100)", [int(table.lr_gd[0])], [308]))


@register("logistic.imbalanced_digits", paper=TYURIN, source="Table 1, imbalanced row analogue",
          statement="Imbalanced digits (183 threes, 17 eights): Normalized LR+GD separates sooner than LR+GD "
                    "for gamma<=1")
def _imbalanced() -> Result:
    table = ex.table1_imbalanced()  # gammas 100, 10, 1, 0.1
    lr, nm = table.lr_gd.tolist(), table.normalized.tolist()
    return combine(count_between("runs separated", sum(t > 0 for t in lr + nm), len(lr + nm), low=len(lr + nm)),
                   between("LR+GD/Normalized t_sep at gamma=1", lr[2] / nm[2], low=1, fmt=".3g"),
                   between("at gamma=0.1", lr[3] / nm[3], low=1, fmt=".3g"))


@register("logistic.wu_two_phases", paper=WU, source="Thm (EoS + stable phase); 4-point toy of Bao et al. Fig. 1",
          statement="eta<=4 monotone; eta>=10: 9 loss increases by t<=14, then monotone; "
                    "eta L(T)=2.5e-3 for eta=1,4,10 (our regression values)")
def _wu() -> Result:
    wu = ex.wu_phases()
    k = {float(e): i for i, e in enumerate(wu.etas)}
    large = [k[e] for e in (10.0, 30.0, 100.0)]
    separated = sum(0 < int(wu.history.separated_at[i]) <= 14 for i in large)
    return combine(_matches("increases eta 0.1/1/4", [int(wu.increases[k[e]]) for e in (0.1, 1.0, 4.0)], [0, 0, 0]),
                   _matches("increases eta 10/30/100", [int(wu.increases[i]) for i in large], [9, 9, 9]),
                   between("last increase, eta>=10", max(int(wu.last_increase[i]) for i in large), high=15, fmt="d"),
                   count_between("eta>=10 separated in 1..14", separated, len(large), low=len(large)),
                   _matches("eta*L(T)/2.5e-3 eta 1/4/10",
                            [float(wu.eta_final_loss[k[e]]) / 2.5e-3 for e in (1.0, 4.0, 10.0)], [1, 1, 1],
                            tolerance=0.02, fmt=".2f"),
                   between("max angle eta<=10 (deg)", max(float(wu.angle[k[e]]) for e in k if e <= 10), high=1.0,
                           fmt=".2f"),
                   between("angle eta=100 (deg)", float(wu.angle[k[100.0]]), 3.0, 4.0, fmt=".1f"))


@register("logistic.ghosts_capped_gd", paper=SAO, source="Def. 5.1, Prop. 5.2 on LR+GD, digits 3 vs 8",
          statement="Plain gamma=100 takes r_t up to 243 and loss 142, separates at 83; "
                    "rho_a-capped GD separates at 40, loss <= ln 2 (our regression values)")
def _capped() -> Result:
    c = ex.capped_vs_plain()
    return combine(between("r max", c.plain_r_max, 241, 245, fmt=".0f"),
                   between("median r", c.plain_r_median, 0.76, 0.78, fmt=".2f"),
                   between("loss max", c.plain_loss_max, 141, 143, fmt=".0f"),
                   _matches("sep plain/capped", [int(c.plain.separated_at[0]), int(c.capped.separated_at[0])],
                            [83, 40]),
                   between("capped max loss - ln 2", c.capped_loss_max - theory.LOSS_AT_ZERO, high=1e-12, fmt=".0e",
                           show_value=False),
                   _matches("capped increases", [c.capped_increases], [19]))


@register("logistic.ghosts_r_sweep", paper=SAO, source="Figs. 1, 7, 8 analogue, 10-class softmax regression",
          statement="One step of length r*rho_a: loss ratio <= 1 along -grad for r <= 1, <= 2.5 on random "
                    "directions, > 5 at r=10")
def _r_sweep() -> Result:
    trained = ex.trained_softmax()
    sweep = ex.one_step_r_sweep()
    r = sweep.r_values.tolist()
    small = [i for i, v in enumerate(r) if v <= 1]
    grad_row, random_rows = sweep.loss_ratio[0], sweep.loss_ratio[1:]
    return combine(between("train loss", trained.train_loss, high=5e-3, fmt=".1e"),
                   between("test acc", trained.test_accuracy, low=0.97, fmt=".3f"),
                   between("-grad ratio max r<=1", float(grad_row[small].max()), high=1, fmt=".2f"),
                   between("-grad ratio r=10", float(grad_row[r.index(10.0)]), low=5, fmt=".1f"),
                   between("random ratio max r<=1", float(random_rows[:, small].max()), high=2.5, fmt=".2f"))
