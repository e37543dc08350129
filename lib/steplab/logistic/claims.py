"""The large-step logistic regression claims (brief ../research/large_step_lr.md, checks C1-C8).

Importing this module registers them; ``python -m steplab.verify logistic`` prints the table.
"""

from __future__ import annotations

import math

import torch

from steplab.claims import Result, register
from steplab.logistic import experiments as ex
from steplab.logistic.data import thm51_worst_case, wu_toy

TYURIN = "Tyurin, AAAI 2025 (arXiv 2412.08424)"
WU = "Wu, Bartlett, Telgarsky, Yu, COLT 2024"
SAO = "Sao 2026, Ghosts of Softmax (arXiv 2603.13552)"


def _ints(values) -> str:
    return "/".join(str(int(v)) for v in values)


@register("logistic.margin_radius", paper=TYURIN, source="Assumption 1.1, Thm 5.1; Thm 3.3",
          statement="Thm 5.1 set (n=1000): mu=0.5, R=sqrt(1.25); Batch Perceptron needs 301 << nR^2/mu^2=5000")
def _margin_radius() -> Result:
    worst = thm51_worst_case(1000)
    mm = worst.margin()
    times = ex.table1_worst_case(1000)
    bound = worst.n * worst.radius**2 / mm.mu**2
    wu = wu_toy().margin()
    ok = (abs(mm.mu - 0.5) < 1e-9 and abs(worst.radius - math.sqrt(1.25)) < 1e-12 and times.perceptron == 301
          and abs(bound - 5000) < 1e-3 and abs(wu.mu - 0.2) < 1e-9 and float(wu.direction[1]) > 1 - 1e-9)
    return Result("mu=0.5, R=1.118, BP 301 <= 5000; Wu toy mu=0.2 along e2",
                  f"mu={mm.mu:.4f}, R={worst.radius:.3f}, BP {times.perceptron} <= {bound:.0f}; Wu mu={wu.mu:.4f}", ok)


@register("logistic.thm41_loss_unreliable", paper=TYURIN, source="Thm 4.1 (C1)",
          statement="gamma=100 on the Thm 4.1 toy: f(theta_1)=12.5 explodes, theta_2 separates with f < 1e-30")
def _thm41() -> Result:
    h = ex.thm41()
    f1, f2, g1 = float(h.loss[1, 0]), float(h.loss[2, 0]), float(h.grad_norm[1, 0])
    closed = float(ex.thm41_first_loss(100.0))
    acc = [float(a) for a in h.accuracy[:, 0]]
    ok = abs(f1 - closed) < 1e-9 and abs(f1 - 12.5) < 0.05 and f2 < 1e-30 and acc == [0.0, 0.5, 1.0]
    ok = ok and 0.70 < g1 < 0.71
    return Result("f1=12.5, f2<1e-30, acc 0->0.5->1, |grad f1| in (0.70, 0.71)",
                  f"f1={f1:.3f}, f2={f2:.1e}, acc {acc[0]:.0f}->{acc[1]:.1f}->{acc[2]:.0f}, |grad f1|={g1:.4f}", ok)


@register("logistic.reduction_batch_perceptron", paper=TYURIN, source="Thm 3.2 (C2), digits 3 vs 8",
          statement="LR+GD at gamma=1e8 has Batch Perceptron's sign pattern at all 86 iterates; "
                    "mismatch at 73 (1e6), 42 (1e4)")
def _reduction() -> Result:
    red = ex.reduction()
    times = ex.perceptron_times()
    mismatch = [int(v) for v in red.first_mismatch]  # gammas 1e2, 1e4, 1e6, 1e8
    t_sep = int(red.lr_gd.separated_at[3])
    ok = (times["batch_perceptron"] == 86 and times["normalized_batch_perceptron"] == 49 and mismatch[3] == -1
          and t_sep == 86 and mismatch[2] == 73 and mismatch[1] == 42 and 5e-6 < red.smallest_abs_margin < 6e-6)
    return Result("BP 86, NBP 49; 1e8: no mismatch, sep 86; mismatch 73 (1e6), 42 (1e4); min|m| 5.5e-6",
                  f"BP {times['batch_perceptron']}, NBP {times['normalized_batch_perceptron']}; 1e8: "
                  f"{'no mismatch' if mismatch[3] < 0 else mismatch[3]}, sep {t_sep}; mismatch {mismatch[2]} (1e6), "
                  f"{mismatch[1]} (1e4); min|m| {red.smallest_abs_margin:.1e}", ok)


@register("logistic.reduction_gaussian", paper=TYURIN, source="Thm 3.2 (C2), Gaussian data n=200, d=10",
          statement="On separable Gaussian data max_t ||theta_t/gamma - hat theta_t|| <= 1e-15 already at gamma=1e6")
def _reduction_gaussian() -> Result:
    red = ex.reduction("gaussian", (1e2, 1e4, 1e6))
    distance = float(red.max_distance[2])
    return Result("<= 1e-15 at gamma=1e6", f"{distance:.1e} (1e2: {float(red.max_distance[0]):.1e})",
                  distance <= 1e-15)


def _c3(name: str):
    lr, bp = ex.digits_sweep(name)
    gammas = [float(g) for g in lr.step_sizes]
    sep = {g: int(t) for g, t in zip(gammas, lr.separated_at)}
    loss10 = {g: float(v) for g, v in zip(gammas, lr.loss[10])}
    return sep, loss10, int(bp.separated_at[0])


@register("logistic.loss_unreliable_digits", paper=TYURIN, source="Figs. 1, 4 analogue (C3), digits 3 vs 8",
          statement="Larger gamma separates sooner (2779/278/82/83/87 for 0.1..1e4) while the loss at t=10 is worse")
def _loss_unreliable() -> Result:
    sep, loss10, _ = _c3("digits_3v8")
    ratio = sep[0.1] / sep[1.0]
    ok = 9.5 <= ratio <= 10.5 and sep[100.0] < sep[1.0] / 3 and loss10[100.0] > 50 * loss10[1.0]
    return Result("t_sep(0.1)/t_sep(1) in [9.5,10.5]; t_sep(100) < t_sep(1)/3; L10(100) > 50 L10(1)",
                  f"t_sep {_ints(sep[g] for g in (0.1, 1.0, 10.0, 100.0, 1e4))}; ratio {ratio:.2f}; "
                  f"L10(100)/L10(1) = {loss10[100.0] / loss10[1.0]:.0f}", ok)


@register("logistic.digits_4v9", paper=TYURIN, source="Figs. 2-3 analogue (C3), digits 4 vs 9",
          statement="Digits 4 vs 9: Batch Perceptron separates at 18; LR+GD at gamma=1/10/100/1e4 at 281/28/17/18")
def _digits_4v9() -> Result:
    sep, _, bp = _c3("digits_4v9")
    measured = [sep[g] for g in (1.0, 10.0, 100.0, 1e4)]
    ok = bp == 18 and all(abs(m - e) <= 2 for m, e in zip(measured, (281, 28, 17, 18)))
    return Result("BP 18; 281/28/17/18 (+-2)", f"BP {bp}; {_ints(measured)}", ok)


@register("logistic.table1_worst_case", paper=TYURIN, source="Table 1, Thm 5.1 row (C4), n = 1000",
          statement="Thm 5.1 set: Normalized LR+GD separates in 2/2/16/157 steps (gamma=100/10/1/0.1), "
                    "LR+GD(100) in 308")
def _table1() -> Result:
    table = ex.table1_worst_case(1000)
    normalized = [int(v) for v in table.normalized]
    lr100 = int(table.lr_gd[0])
    ok = normalized == [2, 2, 16, 157] and lr100 == 308
    return Result("2/2/16/157 and 308 (exact)", f"{_ints(normalized)} and {lr100}", ok)


@register("logistic.imbalanced_digits", paper=TYURIN, source="Table 1, imbalanced row analogue (C5)",
          statement="Imbalanced digits (183 threes, 17 eights): Normalized LR+GD separates sooner than LR+GD "
                    "for gamma<=1")
def _imbalanced() -> Result:
    table = ex.table1_imbalanced()
    lr = [int(v) for v in table.lr_gd]  # gammas 100, 10, 1, 0.1
    nm = [int(v) for v in table.normalized]
    ok = all(t > 0 for t in lr + nm) and nm[2] < lr[2] and nm[3] < lr[3]
    return Result("Normalized wins at gamma = 1, 0.1 (mixed at 10, 100)",
                  f"gamma 100/10/1/0.1: LR+GD {_ints(lr)}, Normalized {_ints(nm)}", ok)


@register("logistic.wu_two_phases", paper=WU, source="Thm (EoS + stable phase); 4-point toy of Bao et al. Fig. 1 (C6)",
          statement="eta<=4 monotone; eta>=10: 9 loss increases by t<=14, then monotone; "
                    "eta L(T)=2.5e-3 for eta=1,4,10")
def _wu() -> Result:
    wu = ex.wu_phases()
    etas = [float(e) for e in wu.etas]
    inc = {e: int(v) for e, v in zip(etas, wu.increases)}
    last = {e: int(v) for e, v in zip(etas, wu.last_increase)}
    sep = {e: int(v) for e, v in zip(etas, wu.history.separated_at)}
    eta_loss = {e: float(v) for e, v in zip(etas, wu.eta_final_loss)}
    angle = {e: float(v) for e, v in zip(etas, wu.angle)}
    ok = all(inc[e] == 0 for e in (0.1, 1.0, 4.0))
    ok = ok and all(inc[e] == 9 and last[e] <= 14 and 0 < sep[e] <= 14 for e in (10.0, 30.0, 100.0))
    ok = ok and all(abs(eta_loss[e] / 2.5e-3 - 1) <= 0.02 for e in (1.0, 4.0, 10.0))
    ok = ok and all(angle[e] < 1.0 for e in etas if e <= 10) and 3.0 < angle[100.0] < 4.0
    return Result("0 incr. for eta<=4; 9 by t<=14 for eta>=10; eta*L(T)=2.5e-3+-2%; angle <1 deg (eta<=10), 3.5 (100)",
                  f"incr. {_ints(inc.values())}; last {_ints(last[e] for e in (10.0, 30.0, 100.0))}; "
                  f"eta*L(T) {', '.join(f'{eta_loss[e]:.2e}' for e in (1.0, 4.0, 10.0))}; "
                  f"angle(100) {angle[100.0]:.1f} deg", ok)


@register("logistic.ghosts_capped_gd", paper=SAO, source="Def. 5.1, Prop. 5.2 on LR+GD (C7), digits 3 vs 8",
          statement="Plain gamma=100 takes r_t up to 243 and loss 142, separates at 83; "
                    "rho_a-capped GD separates at 40, loss <= ln 2")
def _capped() -> Result:
    c = ex.capped_vs_plain()
    t_plain, t_capped = int(c.plain.separated_at[0]), int(c.capped.separated_at[0])
    capped_max = float(c.capped.loss[:, 0].max())
    ok = (abs(c.plain_r_max - 243) < 2 and abs(c.plain_r_median - 0.77) < 0.01 and abs(c.plain_loss_max - 142) < 1
          and t_plain == 83 and t_capped == 40 and capped_max <= ex.LN2 + 1e-12 and c.capped_increases == 19)
    return Result("r max 243, median 0.77, loss max 142, sep 83; capped: sep 40, max loss ln2, 19 small increases",
                  f"r max {c.plain_r_max:.0f}, median {c.plain_r_median:.2f}, loss max {c.plain_loss_max:.0f}, sep "
                  f"{t_plain}; capped: sep {t_capped}, max loss {capped_max:.4f}, {c.capped_increases} increases", ok)


@register("logistic.ghosts_r_sweep", paper=SAO, source="Figs. 1, 7, 8 analogue (C8), 10-class softmax regression",
          statement="One step of length r*rho_a: loss ratio <= 1 along -grad for r <= 1, <= 2.5 on random "
                    "directions, > 5 at r=10")
def _r_sweep() -> Result:
    _, _, train_loss, test_acc = ex.trained_softmax()
    sweep = ex.one_step_r_sweep()
    r = [float(v) for v in sweep.r_values]
    small = torch.tensor([v <= 1 for v in r])
    grad_row, random_rows = sweep.loss_ratio[0], sweep.loss_ratio[1:]
    ok = bool((grad_row[small] <= 1).all()) and bool((random_rows[:, small] <= 2.5).all())
    ok = ok and float(grad_row[r.index(10.0)]) > 5
    return Result("-grad: ratio <= 1 (r<=1), > 5 (r=10); random: <= 2.5 (r<=1)",
                  f"train loss {train_loss:.1e}, test acc {test_acc:.3f}; -grad r=1: {float(grad_row[1]):.2f}, r=10: "
                  f"{float(grad_row[r.index(10.0)]):.1f}; random r=1: max {float(random_rows[:, 1].max()):.2f}", ok)
