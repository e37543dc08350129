"""Registered claims of the RNN family (Pascanu, Mikolov & Bengio 2013), checked against bands.

Each claim runs an experiment of :mod:`steplab.rnn.experiments` and builds its test and both texts from
the same numbers with the :mod:`steplab.claims` helpers. Values of chaotic runs (trained RNNs, exploding
Jacobian products, many starts grazing the wall) are printed only as whether their band holds.
"""

from __future__ import annotations

from steplab.claims import Check, Result, between, close, combine, count_between, register, within, yes
from steplab.rnn import experiments as ex

PAPER = "Pascanu, Mikolov & Bengio 2013"
ROUND_OFF = 1e-9  # float64 slack on an inequality that holds exactly in exact arithmetic


@register("rnn.vanishing_bound", paper=PAPER, source="Sec. 2.1, eqs. 5-7 (identity: a unit test of our code)",
          statement="lambda_1 < 1/gamma: ||dx_t/dx_0|| <= (lambda_1 gamma)^t (vanishing); above 1/gamma it can "
                    "explode (tanh 3, sigmoid 12: > 1e3 at t=50) but need not (tanh 1.5 decays)")
def _vanishing() -> Result:
    check = ex.vanishing_check()
    tanh, sigmoid = check.of("tanh"), check.of("sigmoid")
    excess = max(c.ratio_max for c in check.cases) - 1
    return combine(
        Check(f"max norm/bound - 1 <= {ROUND_OFF:.0e}", f"max norm/bound - 1 {within(excess, ROUND_OFF)}",
              excess <= ROUND_OFF),
        between("t=50 tanh 3", float(tanh.norms[-1, 2]), low=1e3, fmt="g", show_value=False),
        between("sigmoid 12", float(sigmoid.norms[-1, 2]), low=1e3, fmt="g", show_value=False),
        between("tanh 1.5", float(tanh.norms[-1, 1]), high=1, fmt="g", show_value=False))


@register("rnn.wall_gradient", paper=PAPER, source="Sec. 2.3, Fig. 6",
          statement="At w=5 the gradient spikes on the wall b=0.5-5 sigma(0.5): max > 1e3 and max/median > 1e3")
def _wall() -> Result:
    p = ex.wall_profile(5.0)
    return combine(between("max ||grad E||", p.max, low=1e3, fmt=".2g"),
                   between("max/median", p.max / p.median, low=1e3, fmt=".2g"),
                   between("E left", p.loss_left, low=0.3, fmt=".3g"),
                   between("E right", p.loss_right, high=0.02, fmt=".3g"))


@register("rnn.no_wall_below_4_26", paper=PAPER, source="Sec. 2.2-2.3, Fig. 6 (the wall needs w sigma'(0.5) > 1)",
          statement="No wall below w = 1/sigma'(0.5) = 4.2553 (max_b ||grad E|| < 2 at w=3, < 100 at w=4.2); above it "
                    "the zoomed peak grows with w (4.5 < 5 < 5.5) and exceeds 1e5 at w=5.5")
def _no_wall() -> Result:
    peaks = ex.max_grad_norm_over_b((3.0, 4.2, 4.5, 5.0, 5.5))
    rising = peaks.at(4.5) < peaks.at(5.0) < peaks.at(5.5)
    return combine(between("w=3 max", peaks.at(3.0), high=2),
                   between("w=4.2 max", peaks.at(4.2), high=100, show_value=False),
                   Check("increasing in w", f"4.5 < 5 < 5.5: {yes(rising)}", rising),
                   between("w=5.5 peak", peaks.at(5.5), low=1e5, show_value=False))


@register("rnn.two_attractor_window", paper=PAPER, source="Sec. 2.2, Fig. 3 (Doya 1993's one-unit RNN, w = 5)",
          statement="At w = 5 two attractors coexist exactly for b between the saddle-node points w sigma'(x*) = 1: "
                    "b = -2.6556 and -2.3444 (iterating from x = -10 and +10, edges within 2 grid steps)")
def _two_attractors() -> Result:
    d = ex.doya_bifurcation(5.0)
    (b_low, _), (b_high, _) = d.bifurcations
    tolerance = 2 * d.spacing
    return combine(close("b_low", b_low, -2.6556, 1e-4, fmt=".5g"), close("b_high", b_high, -2.3444, 1e-4, fmt=".5g"),
                   close("measured low edge", d.measured_window[0], b_low, tolerance, show_value=False),
                   close("measured high edge", d.measured_window[1], b_high, tolerance, show_value=False))


@register("rnn.one_step", paper=PAPER, source="Sec. 3.2, Alg. 1",
          statement="From the steepest wall point (lr 0.1) GD jumps > 100 onto the E=0.09 plateau; clipped GD "
                    "moves 0.1 and reaches E < 1e-3")
def _one_step() -> Result:
    r = ex.one_step_from_steepest()
    u, c = r.unclipped, r.clipped
    return combine(between("jump", u.first_step, low=100, fmt=".3g"),
                   close("E", u.final_loss, 0.09, 1e-3, fmt=".4f"),
                   between("||grad E||", u.grad1, high=1e-6, fmt=".0e", show_value=False),
                   close("clipped step", c.first_step, 0.1, 1e-9, fmt=".3f"),
                   Check("E falls", f"E {c.loss0:.3f} -> {c.loss1:.3f}", c.loss1 < c.loss0),
                   between("E", c.final_loss, high=1e-3, fmt=".1e"))


@register("rnn.three_starts", paper=PAPER, source="Fig. 6",
          statement="From 3 starts beside the wall, one unclipped step of length 5-10 strands GD on E=0.09; "
                    "clipped GD reaches E < 1e-3")
def _three_starts() -> Result:
    plain, clipped = ex.three_starts(clip_threshold=None), ex.three_starts(clip_threshold=1.0)
    return combine(between("E before jump", float(plain.min_loss_before_jump.max()), high=3e-3, fmt=".1e"),
                   between("shortest jump", float(plain.largest_step.min()), low=5, fmt=".2g"),
                   between("longest jump", float(plain.largest_step.max()), high=10, fmt=".2g"),
                   between("E after", float(plain.final_loss.min()), low=0.08, fmt=".4f"),
                   between("clipped E", float(clipped.final_loss.max()), high=1e-3, fmt=".1e"))


@register("rnn.many_starts", paper=PAPER, source="Sec. 3.2, Alg. 1 on the cliff of Fig. 6",
          statement="400 starts beside the wall, lr 0.5, 300 steps: clipped success >= 0.95, unclipped <= 0.7")
def _many_starts() -> Result:
    r = ex.many_starts_success()
    return combine(count_between("clipped successes", r.clipped_successes, r.runs, low=round(0.95 * r.runs)),
                   count_between("unclipped", r.unclipped_successes, r.runs, high=round(0.7 * r.runs)),
                   count_between("gap", r.clipped_successes - r.unclipped_successes, r.runs, low=round(0.3 * r.runs)))


@register("rnn.omega_values", paper=PAPER, source="Sec. 3.3, eq. 10 (identity: a unit test of our code)",
          statement="Omega (eq. 10's squared norms, as the code) is 0 for an orthogonal linear W_rec and (s^2-1)^2 for "
                    "W_rec = s Q: 0, 0.5625, 9 (eq. 9's plain norms would give 0, 0.25, 1)")
def _omega() -> Result:
    scales = (1.0, 0.5, 2.0)
    values = ex.omega_on_scaled_orthogonal(scales).tolist()
    return combine(*(close(f"s={s:g}", v, (s * s - 1) ** 2, 1e-10, fmt=".4f") for s, v in zip(scales, values)))


@register("rnn.clip_invariants", paper=PAPER, source="Alg. 1; official code RNN.py (identity: a unit test of our code)",
          statement="Clipping keeps ||g|| <= c and the direction; a clipped run's NaN gradient becomes 0.02 W_rec "
                    "(the code's guard, inside its clipping branch)")
def _clip() -> Result:
    r = ex.clip_invariants()
    norm_tolerance, cosine_tolerance = 1e-6, 1e-12
    return combine(Check(f"||g||/c - 1 <= {norm_tolerance:.0e}",
                         f"||g||/c - 1 {within(r.max_ratio - 1, norm_tolerance)}", r.max_ratio - 1 <= norm_tolerance),
                   Check(f"1 - cos <= {cosine_tolerance:.0e}", f"1 - cos {within(1 - r.min_cosine, cosine_tolerance)}",
                         1 - r.min_cosine <= cosine_tolerance),
                   Check("||g|| <= c unchanged", f"unchanged: {yes(r.small_unchanged)}", r.small_unchanged),
                   Check("NaN -> 0.02 W_rec", f"guard: {yes(r.guard_ok)}", r.guard_ok))


@register("rnn.temporal_order", paper=PAPER, source="Sec. 4.1, Fig. 7",
          statement="Temporal order T=20 (basic tanh, lr 0.1, 10 seeds, 2000 iterations): MSGD-C solves >= 8/10, "
                    "MSGD <= 4/10; MSGD's gradient norm spikes above 20x its median, and in >= 7/10 MSGD runs the "
                    "loss over the 10 iterations after the largest spike exceeds that over the 10 before")
def _temporal_order() -> Result:
    r = ex.temporal_order_comparison()
    plain, clipped = ex.split_solved(r)
    seeds = len(r.seeds) // 2
    unclipped_norms = r.grad_norm[:, :seeds]
    spike = float(unclipped_norms.nan_to_num(0).max()) / float(unclipped_norms.nanmedian())
    worse = ex.loss_up_after_largest_spike(r, range(seeds))
    return combine(count_between("MSGD-C", clipped, seeds, low=8), count_between("MSGD", plain, seeds, high=4),
                   between("MSGD max/median ||g||", spike, low=20, fmt="g", show_value=False),
                   count_between("MSGD loss up after its largest spike", worse, seeds, low=7))


@register("rnn.threshold_rule", paper=PAPER, source="Sec. 3.2 (threshold: half to ten times the average norm)",
          statement="Thresholds 0.5x and 1x the average unclipped gradient norm solve temporal order T=20 "
                    "(>= 7 of 10 seeds in 2000 iterations)")
def _threshold() -> Result:
    sweep = ex.threshold_sweep()
    seeds = sweep.solved.shape[1]
    return combine(*(count_between(f"{m:g}x", sweep.solved_count(m), seeds, low=7) for m in (0.5, 1.0)))


@register("rnn.threshold_ten_times", paper=PAPER, source="Sec. 3.2 (threshold: half to ten times the average norm)",
          statement="A threshold of ten times the average norm 'can still yield convergence' (paper); ours: "
                    "at 10x temporal order T=20 solves <= 4 of 10 seeds in 2000 iterations", reproduced=False)
def _threshold_ten_times() -> Result:
    sweep = ex.threshold_sweep()
    return combine(count_between("ours: 10x", sweep.solved_count(10.0), sweep.solved.shape[1], high=4))


@register("rnn.success_rates", paper=PAPER, source="Sec. 4.1, Fig. 7 (our corner: T <= 40, 2000 iterations)",
          statement="Stored grid (python -m steplab.rnn.success_rates; 5 seeds, lr 0.1): temporal order gets harder "
                    "with T; MSGD-CR >= MSGD-C >= MSGD at every T; at T = 20 MSGD-C solves >= 3 more seeds than "
                    "MSGD; at T = 40 only MSGD-CR solves any (>= 2/5)")
def _success_rates() -> Result:
    grid = ex.stored_success_rates()
    task, seeds = "temporal_order", len(grid.seeds)
    ordered = all(grid.count(task, t, "MSGD-CR") >= grid.count(task, t, "MSGD-C") >= grid.count(task, t, "MSGD")
                  for t in grid.lengths(task))
    return combine(Check("MSGD-CR >= MSGD-C >= MSGD at every T", f"ordered: {yes(ordered)}", ordered),
                   count_between("T=20 MSGD-C - MSGD", grid.count(task, 20, "MSGD-C") - grid.count(task, 20, "MSGD"),
                                 seeds, low=3),
                   count_between("T=40 MSGD-C", grid.count(task, 40, "MSGD-C"), seeds, high=0),
                   count_between("T=40 MSGD-CR", grid.count(task, 40, "MSGD-CR"), seeds, low=2))


@register("rnn.addition", paper=PAPER, source="Sec. 4.1 (MSGD-CR solves addition up to T = 200)", reproduced=False,
          statement="MSGD-CR solves the addition task; ours (stored grid, 2000 iterations at lr 0.1): at most 1 of 5 "
                    "seeds of any method at T = 10 and none at T = 20")
def _addition() -> Result:
    grid = ex.stored_success_rates()
    seeds = len(grid.seeds)
    return combine(*(count_between(f"T={t} {m}", grid.count("addition", t, m), seeds, high=1 if t == 10 else 0)
                     for t in grid.lengths("addition") for m in ("MSGD", "MSGD-C", "MSGD-CR")))


@register("rnn.length_generalisation", paper=PAPER, source="Sec. 4.1 (trained on T = 50-200, 0 errors up to T = 5000)",
          reproduced=False,
          statement="Trained models generalise to much longer sequences; ours (trained at one fixed T): every solved "
                    "temporal-order run is > 30% wrong at 2T and at 5T")
def _generalisation() -> Result:
    grid = ex.stored_success_rates()
    worst = {k: min(e for _, _, e in grid.generalisation("temporal_order", k)) for k in (2, 5)}
    return combine(*(between(f"best error at {k}T", worst[k], low=0.3, show_value=False) for k in (2, 5)))


@register("rnn.omega_vanishing", paper=PAPER, source="Sec. 3.3, eq. 10 (Omega preserves the error norm)",
          statement="Temporal order T = 50, 100 clipped iterations from basic and smart tanh: ||dE/dh_k|| at T - k = 49"
                    " is < 1/20 of its value at k = T under MSGD-C, > 1/10 under MSGD-CR (alpha = 2)")
def _omega_vanishing() -> Result:
    view = ex.vanishing_view()
    checks = []
    for init in ("basic_tanh", "smart_tanh"):
        for method, band in (("MSGD-C", {"high": 0.05}), ("MSGD-CR", {"low": 0.1})):
            norms = view.norms[(init, method)]
            checks.append(between(f"{init} {method} ratio", float(norms[-1] / norms[0]), show_value=False, **band))
    return combine(*checks)
