"""Regression checks of notebook 02: the exact counts and values of our own runs (sklearn digits, the Wu et al.
toy, rho_a-capped GD, float32). They are not the papers' numbers; they pin the library's behaviour so that a
change of an update rule shows up. Registered by :mod:`steplab.logistic.claims` (import that module).
"""

from __future__ import annotations

from steplab.claims import Result, between, combine, register
from steplab.logistic import experiments as ex
from steplab.logistic import metrics, studies
from steplab.logistic.claims import REGRESSION, _matches


@register("logistic.regression_reduction", paper=REGRESSION, source="Tyurin Thm 3.2 analogue, digits 3 vs 8",
          statement="Batch Perceptron separates at 86, Normalized at 49; LR+GD's signs first differ at 42 (1e4), "
                    "73 (1e6), never (1e8); min |margin| on the path 5.5e-6")
def _reduction() -> Result:
    red = ex.reduction()  # gammas 1e2, 1e4, 1e6, 1e8
    times = ex.perceptron_times()
    return combine(_matches("BP/NBP", [times.batch_perceptron, times.normalized_batch_perceptron], [86, 49]),
                   _matches("first mismatch 1e4/1e6/1e8 (-1: none)", red.first_mismatch[1:].tolist(), [42, 73, -1]),
                   _matches("sep(1e8)", [int(red.lr_gd.separated_at[3])], [86]),
                   between("min|m|", red.smallest_abs_margin, 5e-6, 6e-6, fmt=".2g"))


@register("logistic.regression_float32", paper=REGRESSION, source="float32 vs float64 reduction, digits 3 vs 8",
          statement="In float32 the Batch Perceptron still separates at 86, LR+GD at 1e8 keeps its signs, and at 1e4 "
                    "both precisions first differ from it at the same step (42)")
def _float32() -> Result:
    p = studies.precision()  # gammas 1e4, 1e6, 1e8
    return combine(_matches("BP float32/float64", [p.perceptron["float32"], p.perceptron["float64"]], [86, 86]),
                   _matches("first mismatch 1e4 float32/float64", [int(p.first_mismatch["float32"][0]),
                                                                    int(p.first_mismatch["float64"][0])], [42, 42]),
                   _matches("float32 first mismatch 1e8", [int(p.first_mismatch["float32"][2])], [-1]))


@register("logistic.regression_digits", paper=REGRESSION, source="Tyurin Figs. 1-4 analogue, digits 3 vs 8, 4 vs 9",
          statement="3 vs 8: LR+GD separates at 2779/278/82/83/87 (gamma 0.1..1e4); 4 vs 9: Batch Perceptron 18, "
                    "LR+GD 281/28/17/18 (gamma 1..1e4)")
def _digits() -> Result:
    sep38 = ex.digits_sweep("digits_3v8").separation_times()
    sweep49 = ex.digits_sweep("digits_4v9")
    sep49 = sweep49.separation_times()
    return combine(_matches("3v8 t_sep 0.1/1/10/100/1e4", [sep38[g] for g in (0.1, 1.0, 10.0, 100.0, 1e4)],
                            [2779, 278, 82, 83, 87]),
                   _matches("4v9 BP", [int(sweep49.perceptron.separated_at[0])], [18]),
                   _matches("4v9 t_sep 1/10/100/1e4", [sep49[g] for g in (1.0, 10.0, 100.0, 1e4)], [281, 28, 17, 18],
                            tolerance=2))


@register("logistic.regression_wu_toy", paper=REGRESSION, source="Wu et al. 4-point toy, T = 1e4",
          statement="eta=10/30/100: 9 loss increases each; eta L(T)=2.5e-3 for eta=1,4,10 (stable 1/(eta t)); "
                    "eta=100 overshoots to a flat loss < 1e-8 with the angle frozen")
def _wu_toy() -> Result:
    wu = ex.wu_phases()
    k = {float(e): i for i, e in enumerate(wu.etas)}
    i100 = k[100.0]
    loss = wu.history.loss[:, i100]
    angle_drift = abs(float(wu.angle[i100]) - float(metrics.angle_degrees(wu.history.weights[15, i100],
                                                                                  wu.max_margin_direction)))
    return combine(_matches("increases eta 10/30/100", [int(wu.increases[k[e]]) for e in (10.0, 30.0, 100.0)],
                            [9, 9, 9]),
                   _matches("eta*L(T)/2.5e-3 eta 1/4/10",
                            [float(wu.eta_final_loss[k[e]]) / 2.5e-3 for e in (1.0, 4.0, 10.0)], [1, 1, 1],
                            tolerance=0.02, fmt=".2f"),
                   between("eta*L(T)/2.5e-3 eta 30", float(wu.eta_final_loss[k[30.0]]) / 2.5e-3, high=0.9, fmt=".2f"),
                   between("L(T) eta 100", float(loss[-1]), high=1e-8, fmt=".0e", show_value=False),
                   between("L(15)/L(T) eta 100", float(loss[15] / loss[-1]), high=2, fmt=".1f"),
                   between("angle change t=15..T, eta 100 (deg)", angle_drift, high=0.01, fmt=".2f", show_value=False),
                   between("max angle eta<=10 (deg)", max(float(wu.angle[k[e]]) for e in k if e <= 10), high=1.0,
                           fmt=".2f"),
                   between("angle eta=100 (deg)", float(wu.angle[i100]), 3.0, 4.0, fmt=".1f"))


@register("logistic.regression_capped", paper=REGRESSION, source="Sao Prop. 5.2 on LR+GD, digits 3 vs 8",
          statement="Plain gamma=100: r_t up to 243 (median 0.77), loss up to 142, separated from 83 on; capped: "
                    "first separated at 40, stays from 72, cap active at all 72 steps, 19 increases")
def _capped() -> Result:
    c = ex.capped_vs_plain()
    return combine(between("r max", c.plain_r_max, 241, 245, fmt=".0f"),
                   between("median r", c.plain_r_median, 0.76, 0.78, fmt=".2f"),
                   between("loss max", c.plain_loss_max, 141, 143, fmt=".0f"),
                   _matches("plain sep/stays", [int(c.plain.separated_at[0]), int(c.plain.stays_separated_from[0])],
                            [83, 83]),
                   _matches("capped sep/stays", [int(c.capped.separated_at[0]), int(c.capped.stays_separated_from[0])],
                            [40, 72]),
                   _matches("capped steps at r = 1", [c.capped_at_radius], [72]),
                   _matches("capped increases", [c.capped_increases], [19]))


@register("logistic.regression_tables", paper=REGRESSION, source="Tyurin Table 1 layout, stays-separated times",
          statement="Normalized LR+GD separates and loses it again: stays separated from 4/4/16/157 on the Thm 5.1 set "
                    "(first: 2/2/16/157) and only after t > 150 on digits 3 vs 8 (first: 47/59/69/180)")
def _tables() -> Result:
    worst, d38 = ex.table1_worst_case(1000), studies.balanced_table("digits_3v8")
    return combine(_matches("Thm 5.1 Normalized stays", worst.normalized_stays.tolist(), [4, 4, 16, 157]),
                   between("3v8 Normalized stays (min)", int(d38.normalized_stays.min()), low=150, fmt="d",
                           show_value=False),
                   _matches("3v8 LR+GD stays", d38.lr_gd_stays.tolist(), [83, 82, 278, 2779]))
