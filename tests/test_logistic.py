"""Family 2 (large-step logistic regression): the experiments of notebook 02 (Tyurin 2025; Wu et al. 2024; Sao 2026)
through steplab.logistic; test_cN names follow the notebook's order of experiments."""

from __future__ import annotations

import math

import pytest
import torch

from steplab.logistic import data, experiments, ghosts, metrics, spike, studies, theory
from steplab.logistic.algorithms import METHODS, run_gd, run_on

torch.set_num_threads(1)


# --- building blocks -------------------------------------------------------------------------------------------------
def test_dataset_margins_and_radii():
    worst = data.thm51_worst_case(1000)
    assert worst.n == 1000 and abs(worst.radius - math.sqrt(1.25)) < 1e-12
    assert abs(worst.margin().mu - 0.5) < 1e-9
    wu = data.wu_toy().margin()
    assert abs(wu.mu - 0.2) < 1e-9 and float(wu.direction[1]) > 1 - 1e-9
    d38 = data.digits_pair(3, 8)
    assert (d38.n, d38.d) == (357, 64) and float(d38.features.max()) <= 1.0
    mm = d38.margin()
    assert mm.separable and mm.mu > 0.2 and bool((d38.signed @ mm.direction >= mm.mu - 1e-12).all())
    imbalanced = data.imbalanced_digits()
    assert imbalanced.n == 200 and int((imbalanced.labels < 0).sum()) == 17
    assert data.gaussian_separable().margin().separable


def test_normalized_lr_gd_stable_form_equals_beta_form():
    """sum_i softmax(-softplus(m))_i z_i  ==  -beta_t grad f with beta_t = n / sum_i sigmoid(-m_i)."""
    ds = data.digits_pair(4, 9)
    hist = run_on(ds, [0.5], 3, "normalized_lr_gd")
    theta = hist.weights[2, 0]
    m = ds.signed @ theta
    beta = ds.n / torch.sigmoid(-m).sum()
    naive = theta - 0.5 * beta * metrics.gradient(m, ds.signed)
    assert torch.allclose(naive, hist.weights[3, 0], rtol=1e-12, atol=1e-14)
    big = run_on(ds, [1e6], 60, "normalized_lr_gd")  # the naive beta_t would overflow here
    assert bool(torch.isfinite(big.weights).all()) and int(big.separated_at[0]) > 0


def test_lr_gd_matches_autograd_and_is_batched():
    ds = data.digits_pair(3, 8)
    gammas = torch.tensor([0.1, 10.0, 1e3])
    batched = run_on(ds, gammas, 5)
    single = run_on(ds, gammas[1:2], 5)
    assert torch.allclose(batched.weights[:, 1], single.weights[:, 0], rtol=1e-12, atol=1e-15)
    theta = batched.weights[3, 2].clone().requires_grad_(True)
    torch.nn.functional.softplus(-(ds.signed @ theta)).mean().backward()
    assert torch.allclose(batched.grad_norm[3, 2], theta.grad.norm(), rtol=1e-12)


@pytest.mark.parametrize("stop", [False, True])
def test_run_gd_resumes_bit_for_bit(stop):
    """N steps, then N more from ``history.state``, give the 2N-step run: iterates, signs and separation times bit
    for bit; the summaries (loss, ||grad f||, min margin, r_t) come from batched matmuls over the recorded rows,
    whose rounding depends on how many rows are batched, so they agree to rounding."""
    ds = data.digits_pair(3, 8)
    gammas, caps = torch.tensor([0.1, 10.0, 1e4]), torch.tensor([0.5, 1.0, 2.0])
    for method in METHODS:
        generator = torch.Generator().manual_seed(0) if method == "perceptron" else None
        full = run_on(ds, gammas, 60, method, stop_at_separation=stop, r_max=caps, generator=generator)
        generator = torch.Generator().manual_seed(0) if method == "perceptron" else None
        first = run_on(ds, gammas, 30, method, stop_at_separation=stop, r_max=caps, generator=generator)
        second = run_on(ds, gammas, 30, method, stop_at_separation=stop, r_max=caps, generator=generator,
                        state=first.state)
        assert (second.start, second.state.step) == (30, 60)
        joined = first.extend(second)
        for name in ("weights", "accuracy", "separated_at"):
            assert torch.equal(getattr(joined, name), getattr(full, name)), (method, name)
        for name in ("loss", "grad_norm", "min_margin", "normalized_step"):
            torch.testing.assert_close(getattr(joined, name), getattr(full, name), rtol=1e-12, atol=1e-15)
        assert torch.equal(joined.state.theta, full.state.theta) and joined.state.step == full.state.step
    with pytest.raises(ValueError, match="resumed at t = 30"):
        first.extend(first)


def test_perceptron_counts_c2():
    times = experiments.perceptron_times("digits_3v8")
    assert times.batch_perceptron == 86 and times.normalized_batch_perceptron == 49
    assert times.perceptron > 0 and times.batch_perceptron <= times.bound_batch


# --- the experiments, C1-C8: Thm 4.1, Thm 3.2, Figs. 1-4, Table 1 (x2), Wu et al., capped GD, r-sweep ---------
def test_c1_thm41_loss_unreliable():
    h = experiments.thm41()
    assert abs(float(h.loss[1, 0]) - 12.5) < 0.05
    assert abs(float(h.loss[1, 0]) - float(theory.thm41_first_loss(100.0))) < 1e-9
    assert float(h.loss[2, 0]) < 1e-30
    assert h.accuracy[:, 0].tolist() == [0.0, 0.5, 1.0]
    assert 0.70 < float(h.grad_norm[1, 0]) < 0.71
    assert float(h.grad_norm[2, 0]) < 1e-30


def test_c2_reduction_exact_sign_patterns():
    red = experiments.reduction()
    assert int(red.first_mismatch[3]) == -1  # gamma = 1e8: all 86 iterates agree
    assert int(red.lr_gd.separated_at[3]) == 86 == int(red.perceptron.separated_at[0])
    assert int(red.first_mismatch[2]) == 73 and int(red.first_mismatch[1]) == 42
    assert 5e-6 < red.smallest_abs_margin < 6e-6
    assert float(red.max_distance[3]) < 1e-12 < float(red.max_distance[0])
    gaussian = experiments.reduction("gaussian", (1e2, 1e4, 1e6))
    assert float(gaussian.max_distance[2]) <= 1e-15


def test_c3_loss_unreliable_digits():
    sweep = experiments.digits_sweep("digits_3v8")
    lr, bp = sweep.lr_gd, sweep.perceptron
    sep = dict(zip(lr.step_sizes.tolist(), lr.separated_at.tolist()))
    loss10 = dict(zip(lr.step_sizes.tolist(), lr.loss[10].tolist()))
    assert [sep[g] for g in (0.1, 1.0, 10.0, 100.0, 1e4)] == [2779, 278, 82, 83, 87]
    assert 9.5 <= sep[0.1] / sep[1.0] <= 10.5
    assert sep[100.0] < sep[1.0] / 3
    assert loss10[100.0] > 50 * loss10[1.0]
    assert sep[1e-3] == -1 and int(bp.separated_at[0]) == 86
    # separation time levels off at the Batch Perceptron's for gamma >= 10, and no run loses its separation
    assert all(abs(sep[g] - 86) <= 4 for g in (10.0, 100.0, 1e4))
    stays = dict(zip(lr.step_sizes.tolist(), lr.stays_separated_from.tolist()))
    assert all(stays[g] == sep[g] for g in sep if g >= 0.1)
    sweep49 = experiments.digits_sweep("digits_4v9")
    lr49, bp49 = sweep49.lr_gd, sweep49.perceptron
    sep49 = dict(zip(lr49.step_sizes.tolist(), lr49.separated_at.tolist()))
    assert int(bp49.separated_at[0]) == 18
    for gamma, expected in ((1.0, 281), (10.0, 28), (100.0, 17), (1e4, 18)):
        assert abs(sep49[gamma] - expected) <= 2


def test_c4_table1_worst_case_exact():
    table = experiments.table1_worst_case(1000)
    assert table.normalized.tolist() == [2, 2, 16, 157]
    assert int(table.lr_gd[0]) == 308
    assert table.perceptron == 301
    assert table.normalized_stays.tolist() == [4, 4, 16, 157] and int(table.lr_gd_stays[0]) == 308


def test_c5_imbalanced_normalized_wins_for_small_gamma():
    table = experiments.table1_imbalanced()  # gammas 100, 10, 1, 0.1
    assert bool((table.lr_gd > 0).all()) and bool((table.normalized > 0).all())
    assert int(table.normalized[2]) < int(table.lr_gd[2]) and int(table.normalized[3]) < int(table.lr_gd[3])
    assert int(table.normalized_stays[2]) < int(table.lr_gd_stays[2])
    assert int(table.normalized_stays[3]) < int(table.lr_gd_stays[3])
    assert bool((table.normalized_stays > table.normalized).any())  # Normalized LR+GD loses a separation again


def test_c6_wu_two_phases():
    wu = experiments.wu_phases()
    etas = wu.etas.tolist()
    for k, eta in enumerate(etas):
        if eta <= 4:
            assert int(wu.increases[k]) == 0
        else:
            assert int(wu.increases[k]) == 9 and int(wu.last_increase[k]) <= 14
            assert 0 < int(wu.history.separated_at[k]) <= 14
        if eta in (1.0, 4.0, 10.0):
            assert abs(float(wu.eta_final_loss[k]) / 2.5e-3 - 1) <= 0.02
        if eta <= 10:
            assert float(wu.angle[k]) < 1.0
    assert 3.0 < float(wu.angle[etas.index(100.0)]) < 4.0
    # eta = 30, 100: the oscillating phase overshoots below the stable 1/(eta t) line; eta = 100 sits on a plateau
    assert float(wu.eta_final_loss[etas.index(30.0)]) < 0.9 * 2.5e-3
    loss100 = wu.history.loss[:, etas.index(100.0)]
    assert float(loss100[-1]) < 1e-8 and float(loss100[15] / loss100[-1]) < 2


def test_c6b_wu_rate_large_step_beats_fixed():
    w = studies.wu_rate()
    assert w.large_slope < -1.9 and -1.1 < w.fixed_slope < -0.6
    assert bool((w.large_step_loss < w.fixed_loss).all())
    # the slope check fails when the step does not grow with T (eta = 1 for every budget)
    ds = data.digits_pair(4, 9)
    flat = run_on(ds, torch.ones(len(w.budgets), dtype=torch.float64), int(w.budgets[-1]), record_weights=False)
    loss = torch.stack([flat.loss[int(b), k] for k, b in enumerate(w.budgets)])
    assert studies.fitted_slope(w.budgets, loss) > -1.9
    assert abs(studies.fitted_slope(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.25, 0.0625])) + 2) < 1e-12


def test_implicit_bias_margins_and_balanced_rows():
    m = studies.margins("digits_3v8")
    ratio = dict(zip(m.gammas.tolist(), (m.normalized[-1] / m.mu).tolist()))
    assert min(ratio[1.0], ratio[10.0]) > 0.5 and ratio[100.0] < ratio[10.0] / 3
    assert ratio[1e4] < 0.05 and m.perceptron / m.mu < 0.05 < m.normalized_perceptron / m.mu < 1
    assert all(v <= 1 + 1e-9 for v in ratio.values())  # no unit vector beats the max-margin mu
    b49, b38 = studies.balanced_table("digits_4v9"), studies.balanced_table("digits_3v8")
    assert (b49.perceptron, b49.normalized_perceptron) == (18, 33)
    assert (b38.perceptron, b38.normalized_perceptron) == (86, 49)
    assert int(b49.lr_gd.min()) < int(b49.normalized.min()) and int(b38.normalized.min()) < int(b38.lr_gd.min())
    assert int(b38.normalized_stays.min()) > 150 and int(b38.lr_gd_stays.min()) == 82  # (stays: machine-dependent)


def test_float32_reduction():
    p = studies.precision()
    assert p.perceptron == {"float64": 86, "float32": 86}
    assert int(p.first_mismatch["float32"][0]) == int(p.first_mismatch["float64"][0]) == 42
    assert int(p.first_mismatch["float32"][2]) == -1 and p.first_mismatch["float64"].tolist() == [42, 73, -1]


def test_stays_separated_from():
    acc = torch.tensor([[0.0, 0.0], [1.0, 0.5], [0.5, 1.0], [1.0, 1.0], [1.0, 0.5]])
    assert metrics.separation_time(acc).tolist() == [1, 2]
    assert metrics.stays_separated_from(acc).tolist() == [3, -1]


def test_c7_capped_gd():
    c = experiments.capped_vs_plain()
    assert abs(c.plain_r_max - 243) < 2 and abs(c.plain_r_median - 0.77) < 0.01
    assert abs(c.plain_loss_max - 142) < 1 and int(c.plain.separated_at[0]) == 83
    assert int(c.capped.separated_at[0]) == 40 and int(c.capped.stays_separated_from[0]) == 72
    assert c.capped_at_radius == 72  # the cap is active at every step: some margin moves by exactly pi
    assert int(c.plain.stays_separated_from[0]) == 83 and c.plain_exact_r_max > 100
    assert float(c.capped.loss[:, 0].max()) <= math.log(2) + 1e-12
    assert c.capped_increases == 19
    assert float(c.capped.normalized_step.max()) <= 1 + 1e-9


def test_c8_r_onsets_with_sao_thresholds():
    trained = experiments.trained_softmax()
    assert trained.train_loss < 5e-3 and trained.test_accuracy > 0.97
    o = studies.onsets()
    assert (o.grad_threshold, o.random_threshold) == (1.1, 2.0)
    assert 1 <= o.grad_onset <= 10 and bool(((o.random_onsets >= 1) & (o.random_onsets <= 10)).all())
    assert bool((o.sweep.loss_ratio[0, o.sweep.r_values <= 1] <= 1).all())
    assert int((o.random_onsets_strict < 1).sum()) >= 8  # with 1.1, random directions cross below r = 1


def test_c9_spike_controller_survives():
    s = studies.spike_runs()
    rho = torch.tensor([m == "rho" for m in s.methods])
    plain = torch.tensor([m == "plain" for m in s.methods])
    start = s.spike_start // s.every
    assert bool((s.test_accuracy[rho] > 0.95).all()) and float(s.test_accuracy[plain].median()) < 0.3
    assert bool((s.loss[start:, rho].amax(0) <= s.loss[start, rho] * (1 + 1e-9)).all())
    assert float(s.r[s.spike_start:s.spike_end][:, plain].median()) > 1 > float(s.r[:s.spike_start].median())


def test_spike_jvp_and_cap():
    split = studies.softmax.digits_split()
    params = spike.init_mlp([3, 4])
    direction = [torch.randn_like(p) for p in params]
    x = split.train_x[:50]
    by_hand = spike.logit_slopes(params, direction, x)
    _, jvp = torch.func.jvp(lambda *p: spike.forward(list(p), x)[0], tuple(params), tuple(direction))
    assert torch.allclose(by_hand, jvp, rtol=1e-10, atol=1e-12)
    runs = spike.spike_test(factors=(1e3,), seeds=(0,), methods=("rho",), steps=20, spike_start=5, spike_end=15,
                            every=5)
    assert float(runs.r[5:15].min()) > 1  # the spike's raw Adam steps are longer than rho_a (so the cap acts)
    with pytest.raises(ValueError, match="methods"):
        spike.spike_test(methods=("sgd",), steps=10, every=5)


def test_temperature_onsets_collapse_in_r():
    t = studies.temperature_sweep()
    assert t.r_spread < 0.5 * t.tau_spread and t.tau_spread > 1
    assert bool(torch.isfinite(t.tau_onset).all())


# --- ghosts: radii --------------------------------------------------------------------------------------------------
def test_ghost_radius_jvp_and_binary_exact():
    ds = data.digits_pair(3, 8)
    theta = run_on(ds, [1.0], 5).weights[5, 0]
    grad = metrics.gradient(ds.signed @ theta, ds.signed)
    # linear binary model: rho_a from a JVP of the logits (m_i, 0) equals pi / max_i |a_i^T v|
    v = -grad / grad.norm()
    slopes = ghosts.logit_slopes(lambda p: torch.stack([ds.signed @ p, torch.zeros(ds.n, dtype=p.dtype)], -1),
                                 theta, v)
    assert torch.allclose(ghosts.spread_radius(slopes), ghosts.logistic_radius(ds.features, v), rtol=1e-12)
    r = ghosts.gd_normalized_step(ds.features, grad, 100.0)
    tau = 100.0 * grad.norm()
    assert torch.allclose(r, ghosts.normalized_step(tau, ghosts.logistic_radius(ds.features, v)), rtol=1e-12)
    # binary exact radius against an independent computation: the nearest complex zero of 1 + exp(delta + Delta
    # tau) (the singularity of the line loss softplus(delta + Delta tau)), found by Newton's method from a grid of
    # complex starting points
    for delta, gap in ((1.3, 0.7), (-4.0, 2.5), (0.0, 1.0)):
        re, im = torch.meshgrid(torch.linspace(-20, 20, 41), torch.linspace(-20, 20, 41), indexing="ij")
        tau = torch.complex(re, im).to(torch.complex128).flatten()
        for _ in range(200):
            e = torch.exp(delta + gap * tau)
            tau = tau - (1 + e) / (gap * e)  # Newton on g(tau) = 1 + e^{delta + Delta tau}
        zeros = tau[(1 + torch.exp(delta + gap * tau)).abs() < 1e-9]
        assert zeros.numel() > 0
        nearest = float(zeros.abs().min())
        assert abs(nearest - float(ghosts.binary_exact_radius(delta, gap))) < 1e-9


def test_capped_step_and_softmax_radius():
    ds = data.digits_pair(3, 8)
    capped = run_on(ds, [1e4], 3, "capped_lr_gd")
    theta = capped.weights[1, 0]
    grad = metrics.gradient(ds.signed @ theta, ds.signed)
    step = ghosts.capped_step_size(ds.features, grad, 1e4)
    assert torch.allclose(capped.weights[2, 0], theta - step * grad, rtol=1e-12)
    assert torch.allclose(ghosts.gd_normalized_step(ds.features, grad, step), torch.tensor(1.0, dtype=torch.float64),
                          rtol=1e-12)
    # softmax regression: the JVP radius equals pi / max_x (max_k a_k - min_k a_k) with a = x V + v_b
    from steplab.logistic import softmax

    split = softmax.digits_split()
    params = torch.randn(softmax.PARAMS, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    v = torch.randn(2, softmax.PARAMS, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    slopes = softmax.logits(v, split.train_x) - softmax.logits(torch.zeros_like(v), split.train_x)
    expected = math.pi / (slopes.amax(-1) - slopes.amin(-1)).amax(-1)
    assert torch.allclose(softmax.radius(params, v, split.train_x), expected, rtol=1e-12)


# --- bad input -------------------------------------------------------------------------------------------------------
def test_bad_input():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="labels"):
        run_gd(x, torch.tensor([1.0, 0.0]), [1.0], 3)
    with pytest.raises(ValueError, match="labels"):
        data.Dataset("bad", x, [1.0, 2.0])
    with pytest.raises(ValueError, match="step_sizes"):
        run_gd(x, torch.tensor([1.0, -1.0]), [1.0, 0.0], 3)
    with pytest.raises(ValueError, match="step_sizes"):
        run_gd(x, torch.tensor([1.0, -1.0]), [-2.0], 3)
    with pytest.raises(ValueError, match="method"):
        run_gd(x, torch.tensor([1.0, -1.0]), [1.0], 3, method="adam")
    with pytest.raises(ValueError, match="steps"):
        run_gd(x, torch.tensor([1.0, -1.0]), [1.0], 0)
    with pytest.raises(ValueError, match="name"):
        data.toy("xor")
    # non-separable (XOR-like, no bias): detected by the LP and reported as "not separated within T"
    xor = data.Dataset("xor", [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]], [1.0, 1.0, -1.0, -1.0])
    assert not xor.margin().separable
    for method in METHODS:
        hist = run_on(xor, [1.0, 100.0], 50, method, stop_at_separation=True)
        assert hist.separation_message(0) == "not separated within T = 50 steps"
        with pytest.raises(RuntimeError, match="not separated within T = 50"):
            hist.require_separation()
