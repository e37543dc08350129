"""Family 3: heavy-ball diffusion sampling (Wizadwongsa et al., ICLR 2024): samplers, stability, GMM claims."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from steplab.diffusion import experiments, gmm, metrics, orders, samplers, schedule, sweeps, theory, trace
from steplab.diffusion.methods import VALID_NAMES, Method, method_name, parse_method


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with experiments.cpu_threads(1):
        yield


# --- naming and bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, family, order, beta", [
    ("ddim", "plms", 1, 1.0), ("plms4", "plms", 4, 1.0), ("hb3.8", "hb", 4, 0.8), ("GHVB 3.8", "ghvb", 4, 0.8),
    ("ghvb0.5", "ghvb", 1, 0.5), ("ghvb2.5", "ghvb", 3, 0.5), ("hb4", "hb", 4, 1.0), ("ghvb3.0", "ghvb", 3, 1.0),
    ("nt1.9", "nt", 2, 0.9), ("dpm++", "dpm++", 2, 1.0), ("dpm++hb0.8", "dpm++hb", 2, 0.8),
])
def test_parser(name, family, order, beta):
    method = parse_method(name)
    assert (method.family, method.order, method.beta) == (family, order, beta)  # 3.8 gives beta == 0.8 exactly


def test_method_name_round_trips():
    assert [method_name(f, 3.8) for f in ("ddim", "plms", "hb", "nt", "ghvb", "dpm++", "dpm++hb")] == [
        "ddim", "plms4", "hb3.8", "nt3.8", "ghvb3.8", "dpm++", "dpm++hb0.8"]
    assert parse_method(method_name("ghvb", 0.3)).beta == 0.3
    with pytest.raises(ValueError, match="momentum"):
        method_name("hb", 0.0)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="valid: ddim"):
        parse_method("heavyball")
    assert "ghvb" in VALID_NAMES and "dpm++hb" in VALID_NAMES
    for bad_beta in ("dpm++hb1.5", "dpm++hb0", "dpm++hb-0.2"):
        with pytest.raises(ValueError, match="beta"):
            parse_method(bad_beta)
    with pytest.raises(ValueError, match="momentum number"):
        parse_method("hb4.5")
    model = gmm.ring_gmm()
    x_T = gmm.noise(8, 2)
    with pytest.raises(ValueError, match="steps"):
        samplers.sample(model, "ddim", 0, 1.0, x_T)
    with pytest.raises(ValueError, match="guidance"):
        samplers.sample(model, "ddim", 5, -1.0, x_T)
    with pytest.raises(ValueError, match="beta"):
        Method("hb", 2, 1.2)


# --- schedule, model, samplers ---------------------------------------------------------------------------

def test_schedule_end_points_and_grids():
    alpha_bar = schedule.alphas_cumprod()
    assert alpha_bar[0] == pytest.approx(1 - 1e-4)
    linear = schedule.sigma_grid(10)
    expected = torch.tensor([999, 899, 799, 699, 599, 500, 400, 300, 200, 100, 0])  # round half to even
    assert torch.equal(schedule.linear_timesteps(10), expected)
    logsnr = schedule.sigma_grid(10, "logsnr")
    assert torch.allclose(logsnr[[0, -1]], linear[[0, -1]])
    steps = schedule.lambda_from_sigma(logsnr).diff()
    assert torch.allclose(steps, steps[0].expand_as(steps))
    assert float(linear[-1]) == pytest.approx(0.01, rel=1e-3)


def test_gmm_epsilon_is_the_exact_score():
    """ε̄ = −σ ∇ log p_σ(x̄) with p_σ = Σ π_k N(μ_k, (s²+σ²) I), by autograd of the log-sum-exp density."""
    model = gmm.random_gmm(classes=5, dim=6, seed=2)
    x = gmm.noise(32, 6, seed=4).requires_grad_(True)
    for sigma in (0.05, 0.7, 20.0):
        var = model.std**2 + sigma**2
        log_p = torch.logsumexp(model.log_weights - ((x[:, None] - model.means) ** 2).sum(-1) / (2 * var), dim=-1)
        (grad,) = torch.autograd.grad(log_p.sum(), x)
        assert torch.allclose(model.epsilon(x.detach(), sigma), -sigma * grad, rtol=1e-10, atol=1e-12)
    labels = gmm.balanced_labels(32, 5)
    cond = model.epsilon(x.detach(), 0.3, labels, guidance=1.0)
    assert torch.allclose(cond, 0.3 / (model.std**2 + 0.09) * (x.detach() - model.means[labels]))


def test_gmm_jacobian_matches_autograd_and_is_amplified_by_guidance():
    model = gmm.random_gmm(classes=4, dim=5, seed=3)
    x = gmm.noise(6, 5, seed=2) * 0.5
    labels = gmm.balanced_labels(6, 4)
    for sigma, w in ((0.2, 0.0), (0.2, 15.0), (2.0, 3.0)):
        analytic = model.epsilon_jacobian(x, sigma, labels, w)
        numeric = torch.stack([torch.autograd.functional.jacobian(
            lambda v, i=i, sigma=sigma, w=w: model.epsilon(v[None], sigma, labels[i:i + 1], w)[0], x[i])
            for i in range(6)])
        assert torch.allclose(analytic, numeric, rtol=1e-9, atol=1e-11)
    sigmas = schedule.sigma_grid(8)
    ring = gmm.ring_gmm()
    x_T, ring_labels = gmm.noise(64, 2, seed=0), gmm.balanced_labels(64, 8)
    _, path = samplers.sample(ring, "ddim", 8, 15.0, x_T, ring_labels, return_path=True)
    z_guided = experiments.step_eigenvalues(ring, path, sigmas, ring_labels, 15.0)
    _, path = samplers.sample(ring, "ddim", 8, 0.0, x_T, return_path=True)
    z_plain = experiments.step_eigenvalues(ring, path, sigmas)
    assert z_guided.shape == (8, 64, 2) and float(z_guided.max()) < 0
    assert float(z_guided.min()) < float(z_plain.min()) - 0.3  # guidance amplifies the eigenvalues (App. K)
    late = slice(4, 7)  # after the warm-up, guided steps leave PLMS4's real interval (-0.3, 0)
    assert float(z_guided[late].amin(-1).median()) < theory.real_interval_closed_form("plms4")


def test_ddim_is_euler_in_sigma_and_dpm_first_order():
    """One DDIM step (Eq. 1) in x_t equals the Euler step on dx̄/dσ = ε̄ (Eq. 2) and DPM-Solver++(1)."""
    model = gmm.random_gmm(dim=8, seed=1)
    eps = model.eps_fn(gmm.balanced_labels(16, 10), 3.0)
    alpha_bar = schedule.alphas_cumprod()
    t, t_prev = 600, 400
    x_t = gmm.noise(16, 8, seed=5)
    sig, sig_prev = schedule.sigma_from_alpha_bar(alpha_bar[[t, t_prev]])
    e = eps(x_t / alpha_bar[t].sqrt(), sig)
    ddim = (alpha_bar[t_prev] / alpha_bar[t]).sqrt() * (x_t - (1 - alpha_bar[t]).sqrt() * e) + (
        1 - alpha_bar[t_prev]).sqrt() * e
    grid = torch.stack([sig, sig_prev])
    x_bar = x_t / alpha_bar[t].sqrt()
    for method in ("ddim", "dpm++"):
        ours = samplers.integrate(eps, x_bar, grid, method)
        assert torch.allclose(ours * alpha_bar[t_prev].sqrt(), ddim, rtol=1e-12, atol=1e-12)


def test_sample_path_shape_and_start():
    model = gmm.ring_gmm()
    x_T = gmm.noise(100, 2, seed=0)
    labels = gmm.balanced_labels(100, 8)
    x, path = samplers.sample(model, "ghvb3.8", 8, 15.0, x_T, labels, return_path=True)
    assert path.shape == (9, 100, 2) and torch.equal(path[-1], x)
    assert torch.allclose(path[0], x_T * math.sqrt(1 + float(schedule.sigma_grid(8)[0]) ** 2))


def test_beta_one_identities():
    """GHVB k.0 ≡ HB k.0 ≡ NT k.0 ≡ PLMS-k; DPM++HB(β=1) ≡ DPM++ to a relative 1e-12 (not bit-for-bit: AB's
    (3e − e')/2 and GHVB's ((2+β)e − (2−β)e')/2 round differently)."""
    differences = experiments.beta_one_differences().differences
    assert len(differences) == 13
    assert max(differences.values()) <= 1e-12


def _hand_momentum(method: str, grid: list[float], beta: float) -> float:
    """The paper's β < 1 updates written out by hand (scalar floats) on x' = −x² + cos t, x_0 = 0.5, k = 2:
    HB/NT Eq. 14/49 on AB2, GHVB-2 Eqs. 15–19, DPM-Solver++(2M) with HB on its bracket (last step first order)."""
    def f(x, t):
        return -x * x + math.cos(t)

    x, v, previous, previous_d, previous_h = 0.5, None, None, None, None
    for n in range(len(grid) - 1):
        t, delta = grid[n], grid[n + 1] - grid[n]
        e = f(x, t)
        if method == "ghvb":
            v_new = e if v is None else (1 - beta) * v + beta * e
            m = beta * v_new if v is None else ((2 + beta) * v_new - (2 - beta) * v) / 2  # M_1, then M_2
            x, v = x + delta / beta * m, v_new
        elif method == "dpm++hb":
            s, s_next = t, grid[n + 1]
            d = x - s * e
            h = math.log(s) - math.log(s_next)
            bracket = d
            if previous_d is not None and n < len(grid) - 2:
                bracket = d + (d - previous_d) / (2 * (previous_h / h))
                v = bracket if v is None else (1 - beta) * v + beta * bracket
                bracket = v
            x, previous_d, previous_h = math.exp(-h) * x + (1 - math.exp(-h)) * bracket, d, h
        else:
            p = e if previous is None else (3 * e - previous) / 2  # AB1, then AB2
            v = p if v is None else (1 - beta) * v + beta * p
            x = x + delta * (v if method == "hb" else (1 - beta) * v + beta * p)
        previous = e
    return x


@pytest.mark.parametrize("method", ["hb1.6", "nt1.6", "ghvb1.6", "dpm++hb0.6"])
def test_momentum_updates_match_a_hand_computation(method):
    """β < 1 goes through the damped average (β = 1 short-circuits it): each sampler equals its formula by hand."""
    grid = [3.0, 2.2, 1.5, 0.9, 0.6, 0.4] if method.startswith("dpm") else [0.0, 0.3, 0.5, 0.9, 1.0, 1.4]
    family = parse_method(method).family
    ours = samplers.integrate(lambda x, t: -x * x + torch.cos(t), torch.tensor([0.5], dtype=torch.float64),
                              torch.tensor(grid, dtype=torch.float64), method)
    assert float(ours[0]) == pytest.approx(_hand_momentum(family, grid, 0.6), rel=1e-12, abs=0)
    assert float(ours[0]) != pytest.approx(_hand_momentum(family, grid, 1.0), rel=1e-6)  # β matters here


# --- claim 1: stability -----------------------------------------------------------------------------------

def test_stability_closed_forms_match_root_finding():
    table = experiments.stability_table()
    assert len(table.methods) == 32  # 2 families x 4 orders x 4 betas (28 distinct: AB-k + HB at β = 1 is GHVB-k)
    for method in table.methods:
        closed, roots = table.closed_form[method], table.by_roots[method]
        assert abs(closed - roots) <= 1e-6 * abs(closed), method
    closed = table.closed_form
    assert closed["hb1.8"] == pytest.approx(-1.5) and closed["ghvb2.8"] == pytest.approx(-0.643, abs=5e-4)
    assert closed["hb3.5"] == pytest.approx(-0.9) and closed["ghvb3.5"] == pytest.approx(-0.429, abs=5e-4)


def test_boundary_locus_geometry():
    euler = theory.boundary_locus("ddim", 181)
    assert torch.allclose((euler + 1).abs(), torch.ones(181, dtype=torch.float64))  # circle |z + 1| = 1
    for name in ("plms4", "hb3.8", "ghvb2.5", "nt1.8", "nt3.8"):
        locus = theory.boundary_locus(name, 721)
        # the locus at θ = π against the boundary found by bisecting the spectral radius (independent of A/B at −1)
        assert float(locus[0].real) == pytest.approx(theory.real_interval_by_roots(name), rel=1e-9)
        assert float(theory.spectral_radius(name, locus[100:101].numpy())[0]) == pytest.approx(1.0, abs=1e-9)
    # HB enlarges the region along the real axis, higher AB order shrinks it
    assert theory.real_interval_closed_form("hb3.8") < theory.real_interval_closed_form("plms4")
    assert theory.real_interval_closed_form("plms2") < theory.real_interval_closed_form("plms3")


def test_test_equation_growth_at_the_boundary():
    for method in experiments.STABILITY_ROWS:
        check = experiments.growth_check(method)
        assert check.rate_outside > 1.0 > check.rate_inside, method


# --- claim 2: App C toy -------------------------------------------------------------------------------------

def test_app_c_toy_norms():
    norms = experiments.toy_norms(("plms2",) + experiments.TOY_STABLE).norms
    assert norms["exact"] == pytest.approx(0.0792, abs=1e-4)
    assert norms["plms2"] > 1.0
    for method in experiments.TOY_STABLE:
        assert norms[method] < 0.1, method
    assert norms["hb1.8"] == pytest.approx(0.073, abs=1e-3) and norms["ghvb1.8"] == pytest.approx(0.0795, abs=1e-3)


# --- claims 3-4: guided GMM -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_gmm_divergence_orderings(seed):
    div = {m: d[10] for m, d in experiments.gmm_sweep(seed=seed).divergence.items()}
    assert div["plms4"] >= 0.5
    assert div["hb3.8"] <= 0.15 and div["hb3.8"] <= 0.25 * div["plms4"]
    assert div["ghvb3.5"] <= 0.3 and div["ghvb3.8"] < div["plms4"]
    assert div["ddim"] <= 0.01 and div["dpm++"] <= 0.01
    assert div["hb3.9"] >= div["hb3.8"]
    assert all(experiments.gmm_sweep(seed=seed).divergence[m][20] == 0.0 for m in experiments.GMM_METHODS)


def test_gmm_accuracy_trade_off():
    err = {m: e[30] for m, e in experiments.gmm_sweep().error.items()}
    assert err["ghvb3.8"] <= 1.15 * err["plms4"]
    assert err["hb3.8"] >= 1.3 * err["plms4"]
    assert err["plms4"] < err["hb3.9"] < err["hb3.8"] < err["ddim"]


def test_reference_is_converged():
    model, x_T, labels = experiments.gmm_problem(batch=32)
    coarse = metrics.reference_samples(model, 15.0, x_T, labels, steps=150)
    fine = metrics.reference_samples(model, 15.0, x_T, labels, steps=experiments.REFERENCE_STEPS)
    assert float(metrics.errors(coarse, fine).max()) < 1e-5


def test_ring_picture():
    div = {m: d[8] for m, d in experiments.ring_experiment().divergence.items()}
    assert div["plms4"] >= 0.3 and div["hb3.8"] < div["plms4"] and div["hb3.6"] <= 0.01 and div["ddim"] <= 0.01


# --- claim 5: orders ------------------------------------------------------------------------------------------

def test_observed_orders():
    table = experiments.order_table().observed
    for method, order in experiments.ORDER_EXPECTED.items():
        assert abs(table[method] - order) <= 0.1, (method, table[method])
    for method, order in experiments.EXACT_START_EXPECTED.items():
        assert abs(table[method + " exact start"] - order) <= 0.1, method


def test_orders_reference_is_accurate():
    assert abs(orders.reference_value(4000) - float(orders.exact_states(torch.tensor([2.0]), 8000)[0, 0])) < 1e-12


# --- diffusers cross-check --------------------------------------------------------------------------------

@pytest.mark.diffusers
def test_diffusers_schedulers_agree():
    pytest.importorskip("diffusers")
    differences = experiments.diffusers_differences().differences
    assert set(differences) == {"DDIMScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler"}
    for name, difference in differences.items():
        assert difference <= 1e-5, name


def test_dominant_step_eigenvalue_is_delta_times_the_largest_jacobian_eigenvalue():
    from steplab.diffusion.experiments import dominant_step_eigenvalue

    model = gmm.ring_gmm()
    labels = gmm.balanced_labels(16, model.classes)
    x_bar = gmm.noise(16, 2, seed=1) * 3.0
    x_bar[3] = float("nan")
    z = dominant_step_eigenvalue(model, x_bar, 2.0, -0.5, labels, 15.0)
    eps, h = model.eps_fn(labels, 15.0), 1e-6
    sigma = torch.tensor(2.0, dtype=x_bar.dtype)
    columns = []
    for i in range(2):  # central differences of the guided ε̂, independent of epsilon_jacobian
        e = torch.zeros(2, dtype=x_bar.dtype)
        e[i] = h
        columns.append((eps(x_bar + e, sigma) - eps(x_bar - e, sigma)) / (2 * h))
    eig = torch.linalg.eigvals(torch.stack(columns, dim=-1)[[i for i in range(16) if i != 3]])
    largest = eig.gather(1, eig.abs().argmax(1, keepdim=True))[:, 0].real
    assert torch.isnan(z[3]) and torch.isfinite(z[torch.arange(16) != 3]).all()
    assert torch.allclose(z[torch.arange(16) != 3], -0.5 * largest, rtol=1e-6, atol=1e-8)


# --- defects and sweeps of issue 16 ---------------------------------------------------------------------

def test_applied_method_follows_the_warm_up():
    assert [theory.applied_method("plms4", n) for n in range(5)] == ["plms1", "plms2", "plms3", "plms4", "plms4"]
    assert [theory.applied_method("hb3.8", n) for n in range(4)] == ["ddim", "hb1.8", "hb2.8", "hb3.8"]
    assert [theory.applied_method("ghvb2.5", n) for n in range(4)] == ["ddim", "ghvb1.5", "ghvb2.5", "ghvb2.5"]
    with pytest.raises(ValueError):
        theory.applied_method("dpm++", 0)
    # step 0 of HB really is an Euler step: one step of hb3.8 equals one of ddim
    f = lambda x, t: -x * x + torch.cos(t)  # noqa: E731
    x0, grid = torch.tensor([0.5], dtype=torch.float64), torch.tensor([0.0, 0.4], dtype=torch.float64)
    assert torch.equal(samplers.integrate(f, x0, grid, "hb3.8"), samplers.integrate(f, x0, grid, "ddim"))


def test_stable_height_near_the_imaginary_axis():
    assert theory.stable_height("plms4") == pytest.approx(0.419, abs=2e-3)
    assert theory.stable_height("hb3.8") == pytest.approx(0.291, abs=2e-3)
    assert theory.stable_height("hb3.5") < theory.stable_height("hb3.8")  # more damping: lower still
    assert float(theory.spectral_radius("hb3.8", np.array([-0.02 + 0.35j]))[0]) > 1.0  # PLMS4 is stable there
    assert float(theory.spectral_radius("plms4", np.array([-0.02 + 0.35j]))[0]) <= 1.0


def test_assigned_fraction_counts_nearest_means():
    means = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[0.9, 0.1], [0.8, 0.3], [float("nan"), 0.0], [0.1, 2.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 1])
    assert float(metrics.assigned_fraction(x, means, labels)) == pytest.approx(0.5)


@pytest.mark.parametrize("beta", [0.7, 0.4])
def test_momentum_trace_matches_the_hand_derivation(beta):
    check = trace.trace_check(beta)
    assert check.hb <= 1e-12 and check.ghvb <= 1e-12
    assert check.hb_vs_wrong > 1e-3 and check.ghvb_vs_wrong > 1e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_ghvb_beta_sweep_trade_off(seed):
    sweep = sweeps.ghvb_beta_sweep(seed)
    div = [sweep.divergence[b][10] for b in sweep.betas]
    err = [sweep.error[b][30] for b in sweep.betas]
    assert all(b >= a for a, b in zip(div, div[1:])) and all(b < a for a, b in zip(err, err[1:]))
    assert div[0] < 0.1 * div[-1] and err[0] > 1.15 * err[-1]
    assert sweep.names[1.0] == "plms4" and sweep.names[0.5] == "ghvb3.5"


@pytest.mark.parametrize("seed", [0, 1])
def test_hb_beta_sweep_error_grows_as_beta_falls(seed):
    sweep = sweeps.hb_beta_sweep(seed)
    for n in sweep.steps:
        errs = [sweep.error[b][n] for b in sweep.betas]
        assert all(b > a for a, b in zip(errs, errs[1:])), n
    assert all(sweep.error[0.4][n] > sweep.ddim_error[n] for n in sweep.steps if n >= 30)
    assert all(sweep.error[0.6][n] < sweep.ddim_error[n] for n in sweep.steps)  # the not-reproduced crossover


@pytest.mark.parametrize("seed", [0, 1])
def test_dpm_solver_diverges_and_hb_helps(seed):
    grid = sweeps.dpm_grid(seed)
    cells = [(w, n) for w in grid.guidances for n in grid.steps]
    assert max(grid.divergence["dpm++"][w][n] for w, n in cells) >= 0.5
    assert all(grid.count("dpm++hb0.8", w, n) <= grid.count("dpm++", w, n) for w, n in cells)
    assert grid.total("dpm++hb0.8") < 0.3 * grid.total("dpm++")
    assert grid.total("dpm++hb0.6") <= 0.05 * grid.batch
    assert grid.divergence["dpm++"][15.0][10] == 0.0


def test_ring_ranking_by_error_and_cluster():
    ring = experiments.ring_experiment()
    right, err = {m: a[8] for m, a in ring.assigned.items()}, {m: e[8] for m, e in ring.error.items()}
    assert right["ddim"] >= 0.99 and right["hb3.6"] >= 0.99 and right["hb3.8"] < 0.8 and right["plms4"] < 0.6
    assert err["hb3.8"] > 2 * err["ddim"] and max(err["ddim"], err["hb3.6"]) < 0.25
    # ‖x − x_ref‖ > 1 lets samples in a neighbouring cluster (0.765 apart) pass: 'ok' is not 'right cluster'
    ok_wrong = (~ring.diverged("hb3.8", 8)) & (metrics.errors(ring.samples["hb3.8", 8], ring.reference) > 0.5)
    assert int(ok_wrong.sum()) > 0


def test_reference_path_ends_at_the_reference_and_starts_at_the_samplers_start():
    model, x_T, labels = experiments.gmm_problem(batch=16)
    grid = schedule.sigma_grid(8)
    path = metrics.reference_path(model, 15.0, x_T, grid, labels, substeps=50)
    end = metrics.reference_samples(model, 15.0, x_T, labels, steps=experiments.REFERENCE_STEPS)
    assert path.shape == (9, 16, 64) and float(metrics.errors(path[-1], end).max()) < 1e-5
    _, sampler_path = samplers.sample(model, "ddim", 8, 15.0, x_T, labels, return_path=True)
    assert torch.equal(path[0], sampler_path[0])
    with pytest.raises(ValueError):
        metrics.reference_path(model, 15.0, x_T, torch.tensor([1.0, 0.0], dtype=torch.float64), labels)


def test_palette_never_reuses_a_colour():
    from steplab.plots import diffusion as dplots

    colours = dplots.palette(len(experiments.GMM_METHODS))
    assert len(set(colours)) == len(colours) == 9
    with pytest.raises(ValueError):
        dplots.palette(len(dplots.PALETTE) + 1)
