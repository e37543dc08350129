"""steplab.rnn: the cliff, clipping, Omega, the tasks and temporal-order training (Pascanu, Mikolov & Bengio 2013)."""

from __future__ import annotations

import math

import pytest
import torch

from steplab.rnn import experiments as ex
from steplab.rnn import success_rates, theory
from steplab.rnn.cliff import (
    CliffProblem,
    cliff_loss,
    cliff_loss_and_grad,
    cliff_surface,
    descend,
    valley_line,
    wall_line,
)
from steplab.rnn.experiments import clip_invariants, omega_on_scaled_orthogonal
from steplab.rnn.model import RNNLayout, clip_with_nan_guard, forward, init_params, omega
from steplab.rnn.tasks import TASKS, error_per_run, generate, get_task, loss_per_run
from steplab.rnn.train import DATA_SEED_OFFSET, _batch, train, training_gradient

F64 = torch.float64


# ----------------------------------------------------------------------------- the cliff model

def test_forward_recursion_matches_autograd():
    w = torch.tensor([3.0, 5.0, 5.5, 8.0], dtype=F64, requires_grad=True)
    b = torch.tensor([-1.0, -2.5, -2.9, 1.0], dtype=F64, requires_grad=True)
    cliff_loss(w, b).sum().backward()
    loss, gw, gb = cliff_loss_and_grad(w.detach(), b.detach())
    assert torch.allclose(loss, cliff_loss(w.detach(), b.detach()))
    assert torch.allclose(gw, w.grad, rtol=1e-10) and torch.allclose(gb, b.grad, rtol=1e-10)
    loss2, grad = CliffProblem().oracle(torch.stack([w.detach(), b.detach()], -1))
    assert torch.allclose(grad, torch.stack([w.grad, b.grad], -1), rtol=1e-10)


def test_lines_and_surface():
    w = torch.linspace(2, 10, 9, dtype=F64)
    assert torch.isnan(wall_line(w)[w <= 4]).all()
    assert torch.allclose(wall_line(w)[w > 4.5], 0.5 - w[w > 4.5] / (1 + math.exp(-0.5)))
    # on the valley line (w < 4.5) the fixed point has sigma = 0.7, i.e. E = 0
    assert float(cliff_loss(torch.tensor(3.0, dtype=F64), valley_line(torch.tensor(3.0, dtype=F64)))) < 1e-12
    loss, grad_norm = cliff_surface(torch.linspace(2, 10, 40, dtype=F64), torch.linspace(-6, 7, 65, dtype=F64))
    assert loss.shape == grad_norm.shape == (65, 40)
    assert float(loss.min()) >= 0 and float(loss.max()) <= 0.49


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_wall_gradient_spikes(dtype):
    p = ex.wall_profile(5.0, dtype=dtype)
    assert p.max > 1e3 and p.max / p.median > 1e3
    assert p.loss_left > 0.3 and p.loss_right < 0.02


def test_the_wall_needs_an_unstable_x0():
    # x_0 = 0.5 on b = 0.5 - w sigma(0.5) is a fixed point; it is unstable (a wall) only for w sigma'(0.5) > 1
    assert abs(theory.WALL_W - 4.2553) < 1e-4
    near = torch.tensor([4.2, 4.25, 4.26, 4.3], dtype=F64)
    assert wall_line(near).isnan().tolist() == [True, True, False, False]
    assert theory.fixed_point_stable(4.2, 0.5) and not theory.fixed_point_stable(4.3, 0.5)
    for w, stays in ((4.2, True), (4.3, False)):
        b = float(0.5 - w * torch.sigmoid(torch.tensor(0.5, dtype=F64)))
        assert float(theory.limit_states(w, torch.tensor([b], dtype=F64), 0.5)[0] - 0.5) == pytest.approx(0, abs=1e-9)
        moved = abs(float(theory.limit_states(w, torch.tensor([b], dtype=F64), 0.5 + 1e-3)[0]) - 0.5)
        assert (moved < 1e-6) == stays


def test_the_exploding_threshold_separates_the_wall_from_the_rest_of_the_surface():
    from steplab.rnn.cliff import EXPLODING_GRAD_NORM, cliff_surface, exploded

    w, b = torch.linspace(1, 8, 300, dtype=F64), torch.linspace(-6, 1, 300, dtype=F64)
    _, grad = cliff_surface(w, b)  # [b, w]
    away = (b[:, None] - (0.5 - w[None, :] * torch.sigmoid(torch.tensor(0.5, dtype=F64)))).abs() > 0.5
    assert float(grad[away].max()) < EXPLODING_GRAD_NORM / 5 and not exploded(grad[away]).any()
    assert exploded(torch.tensor(ex.wall_profile(5.0).max / 100))


def test_no_wall_below_4_26_and_the_zoomed_peaks():
    peaks = ex.max_grad_norm_over_b((3.0, 4.2, 4.5, 5.0, 5.5))
    assert peaks.at(3.0) < 2 and peaks.at(4.2) < 100
    assert peaks.at(4.5) < peaks.at(5.0) < peaks.at(5.5)
    assert 3e5 < peaks.at(5.5) < 5e5  # the zoom finds the ~1e-6 wide wall that a 2001-point grid misses
    assert ex.wall_profile(5.5).max < peaks.at(5.5) / 2


def test_doya_two_attractor_window():
    (b_low, x_low), (b_high, x_high) = theory.bifurcation_points(5.0)
    assert b_low == pytest.approx(-2.65561, abs=1e-5) and b_high == pytest.approx(-2.34439, abs=1e-5)
    for b, x in ((b_low, x_low), (b_high, x_high)):  # a fixed point with w sigma'(x*) = 1
        s = torch.sigmoid(torch.tensor(x, dtype=F64))
        assert float(theory.fixed_point_bias(5.0, torch.tensor(x, dtype=F64))) == pytest.approx(b)
        assert float(5 * s * (1 - s)) == pytest.approx(1)
    d = ex.doya_bifurcation(5.0)
    assert abs(d.measured_window[0] - b_low) <= 2 * d.spacing and abs(d.measured_window[1] - b_high) <= 2 * d.spacing
    with pytest.raises(ValueError, match="w must be > 4"):
        theory.bifurcation_points(3.5)


def test_one_step_from_steepest_point():
    r = ex.one_step_from_steepest()
    u, c = r.unclipped, r.clipped
    assert u.first_step > 100
    assert abs(u.loss1 - 0.09) < 1e-3 and u.grad1 < 1e-6 and abs(u.final_loss - 0.09) < 1e-3
    assert abs(c.first_step - 0.1) < 1e-9 and c.loss1 < c.loss0 and c.final_loss < 1e-3


def test_three_starts_jump_then_plateau():
    plain, clipped = ex.three_starts(clip_threshold=None), ex.three_starts(clip_threshold=1.0)
    assert float(plain.min_loss_before_jump.max()) < 3e-3
    assert float(plain.final_loss.min()) > 0.08
    assert 5 < float(plain.largest_step.min()) and float(plain.largest_step.max()) < 10
    assert float(clipped.final_loss.max()) < 1e-3
    assert float(clipped.trajectory.clipped_grad_norm.max()) <= 1 + 1e-12


def test_many_starts():
    r = ex.many_starts_success(400, seed=0)
    assert r.clipped >= 0.95 and r.unclipped <= 0.7 and r.clipped - r.unclipped >= 0.3


def test_descend_clips_each_start_separately():
    # one start on the wall and one far from it: the far start's step must be unaffected by the other
    starts = torch.tensor([[5.0, ex.wall_profile(5.0).b_steepest], [3.0, -1.0]], dtype=F64)
    together = descend(starts, 0.1, 1.0, steps=1)
    alone = descend(starts[1:], 0.1, 1.0, steps=1)
    assert torch.allclose(together.final[1], alone.final[0])


# ----------------------------------------------------------------------------- RNN pieces

def test_omega_values():
    assert torch.allclose(omega_on_scaled_orthogonal(), torch.tensor([0.0, 0.5625, 9.0], dtype=F64), atol=1e-10)
    in_float32 = omega_on_scaled_orthogonal(dtype=torch.float32)
    assert torch.allclose(in_float32, torch.tensor([0.0, 0.5625, 9.0]), atol=1e-5)


def test_clipping_invariants_and_oracle():
    r = clip_invariants()
    assert r.max_ratio <= 1 + 1e-6 and r.min_cosine > 1 - 1e-12
    assert r.small_unchanged and r.guard_ok
    # agrees with torch.nn.utils.clip_grad_norm_ (up to its 1e-6 epsilon); inf = an unclipped run
    layout = RNNLayout(2, 3, 1)
    grads = torch.randn(2, layout.size, dtype=F64, generator=torch.Generator().manual_seed(0)) * 10
    ours, _ = clip_with_nan_guard(grads, torch.zeros_like(grads), layout, torch.tensor([2.0, math.inf]))
    reference = grads[0].clone().requires_grad_(True)
    reference.grad = grads[0].clone()
    torch.nn.utils.clip_grad_norm_([reference], 2.0)
    assert torch.allclose(ours[0], reference.grad, rtol=1e-5) and torch.equal(ours[1], grads[1])


def test_unclipped_runs_have_no_nan_guard():
    # the code's guard sits inside its clipping branch: MSGD (None or an inf entry) keeps a NaN gradient as it is
    layout = RNNLayout(2, 3, 1)
    grads = torch.ones(2, layout.size, dtype=F64)
    grads[:, 0] = float("nan")
    params = torch.ones_like(grads)
    plain, _ = clip_with_nan_guard(grads, params, layout, None)
    assert torch.equal(plain.isnan(), grads.isnan())
    mixed, _ = clip_with_nan_guard(grads, params, layout, torch.tensor([1.0, math.inf], dtype=F64))
    rec = layout.slices()["w_rec"]
    assert torch.equal(mixed[0, rec], 0.02 * params[0, rec]) and bool(mixed[1, 0].isnan())


def test_initializations():
    layout = RNNLayout(6, 50, 4)
    smart = layout.unflatten(init_params(layout, "smart_tanh", [0, 1], torch.float64))["w_rec"]
    radius = torch.linalg.eigvals(smart).abs().amax(-1)
    assert torch.allclose(radius, torch.full((2,), 0.95, dtype=F64), atol=1e-6)
    assert ((smart != 0).sum(-1) == 15).all()
    basic = init_params(layout, "basic_tanh", [0], torch.float64)
    assert 0.09 < float(layout.unflatten(basic)["w_rec"].std()) < 0.11
    assert torch.equal(init_params(layout, "sigmoid", [3]), init_params(layout, "sigmoid", [3]))


def test_vanishing_bound():
    check = ex.vanishing_check(steps=30, size=20)
    for activation in ("tanh", "sigmoid"):
        norms, bound = check.of(activation).norms[:, 0], check.of(activation).bound[:, 0]
        assert (norms <= bound * (1 + 1e-9)).all()


# ----------------------------------------------------------------------------- tasks

@pytest.mark.parametrize("task", list(TASKS))
def test_tasks_shapes_and_seeding(task):
    spec = get_task(task)
    x, y = generate(task, 7, 20, torch.Generator().manual_seed(5))
    x2, y2 = generate(task, 7, 20, torch.Generator().manual_seed(5))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert x.shape[0] == 7 and x.shape[2] == spec.input_size
    assert torch.allclose(x.sum(-1)[:, :1], torch.ones(7, 1)) or spec.readout == "regress"
    layout = RNNLayout(spec.input_size, 5, spec.output_size)
    flat = init_params(layout, "basic_tanh", [0])
    out, states = forward(flat, layout, x[None], every_step=spec.readout == "every_step")
    assert len(states) == x.shape[1]
    assert loss_per_run(spec, out, y[None]).shape == (1,)
    assert 0 <= float(error_per_run(spec, out, y[None])) <= 1


def test_task_targets_follow_the_markers():
    x, y = generate("temporal_order", 50, 30, torch.Generator().manual_seed(0))
    symbols = x.argmax(-1)
    for seq, target in zip(symbols, y):
        markers = seq[seq < 2]
        assert len(markers) == 2 and int(target) == int(markers[0]) + 2 * int(markers[1])
    x, y = generate("addition", 50, 40, torch.Generator().manual_seed(0))
    assert 40 <= x.shape[1] < 44 and (x[..., 0].sum(1) == 2).all()
    assert torch.allclose((x[..., 0] * x[..., 1]).sum(1) / 2, y[:, 0])


def test_memorization_layout_is_the_official_generators():
    # memorization.py: T = L + 2 n_pos; pattern at [0, n_pos); blank from n_pos; trigger at L + n_pos, the first
    # step of the pattern target [T - n_pos, T); target blank (class n_values) before
    length, n_pos, blank, trigger = 15, 10, 5, 6
    x, y = generate("noiseless_memorization", 4, length, torch.Generator().manual_seed(0))
    symbols = x.argmax(-1)
    assert x.shape[1] == y.shape[1] == length + 2 * n_pos
    assert (symbols[:, :n_pos] < 5).all() and (symbols[:, n_pos:] != trigger).sum() == 4 * (length + n_pos - 1)
    assert (symbols[:, length + n_pos] == trigger).all() and (symbols[:, n_pos:length + n_pos] == blank).all()
    assert (symbols[:, length + n_pos + 1:] == blank).all()
    assert torch.equal(y[:, length + n_pos:], symbols[:, :n_pos]) and (y[:, :length + n_pos] == blank).all()


def test_three_bit_multiplication_permutation_layouts():
    length = 50
    x, y = generate("temporal_order_3bit", 64, length, torch.Generator().manual_seed(1))
    for seq, target in zip(x.argmax(-1), y):
        where = (seq < 2).nonzero().flatten().tolist()
        assert len(where) == 3 and 5 <= where[0] < 10 and 15 <= where[1] < 20 and 30 <= where[2] < 35
        assert int(target) == sum(int(seq[p]) << bit for bit, p in enumerate(where))
        assert int(seq.max()) <= 5  # distractors are symbols 2..5
    x, y = generate("multiplication", 64, length, torch.Generator().manual_seed(2))
    total = x.shape[1]
    assert length <= total < length + 5
    for seq, target in zip(x, y):
        p0, p1 = seq[:, 0].nonzero().flatten().tolist()
        assert p0 < int(0.1 * total) <= p1 < int(0.5 * total)
        assert float(target) == pytest.approx(float(seq[p0, 1] * seq[p1, 1]))
    x, y = generate("random_permutation", 64, length, torch.Generator().manual_seed(3))
    symbols = x.argmax(-1)
    assert torch.equal(symbols[:, 0], y) and (y < 2).all() and (symbols[:, 1:] >= 2).all()


# ----------------------------------------------------------------------------- training

def test_temporal_order_clipping_helps():
    r = ex.temporal_order_comparison()
    plain, clipped = ex.split_solved(r)
    assert len(r.seeds) == 20 and clipped >= 8 and plain <= 4  # bands with a margin: machine-independent
    unsolved = ~r.solved
    assert torch.isfinite(r.grad_norm[:, unsolved]).all()  # runs that never stop record every norm
    assert (torch.isnan(r.grad_norm[-1, r.solved])).all()  # stopped runs are frozen
    plain_norms = r.grad_norm[:, :10]
    assert float(plain_norms.nan_to_num(0).max()) > 5 * float(plain_norms.nanmedian())  # the spikes
    assert ex.loss_up_after_largest_spike(r, range(10)) >= 7  # a spike, then a worse loss (the cliff's signature)


def test_success_rate_cell_reruns_within_the_stored_band():
    # re-train one stored cell (temporal order, T = 10, 5 seeds x 3 methods: seconds) and check each method's count
    # against the stored one +- 1 seed (unclipped training is chaotic across CPUs: a band, not the exact count)
    stored = success_rates.load()
    assert stored.seeds == list(success_rates.SEEDS) and stored.document["settings"]["lr"] == 0.1
    runs = success_rates.run_cell("temporal_order", 10)
    for method in success_rates.METHODS:
        count = sum(r["solved_at"] >= 0 for r in runs if r["method"] == method)
        assert abs(count - stored.count("temporal_order", 10, method)) <= 1, method


def test_omega_training_step_runs():
    r = train("temporal_order", 10, seeds=(0,), clip_thresholds=(1.0,), omega_weights=(2.0,), hidden_size=8,
              max_iterations=3, eval_every=3, eval_size=20)
    assert r.omega.shape == (3, 1) and float(r.omega.min()) > 0 and torch.isfinite(r.loss).all()
    # one unclipped MSGD-CR step in float64 is theta - lr g with the g of training_gradient (tested below)
    one = train("temporal_order", 10, seeds=(0,), omega_weights=(2.0,), hidden_size=8, max_iterations=1,
                eval_size=20, dtype=F64)
    spec, layout = get_task("temporal_order"), one.layout
    flat = init_params(layout, "basic_tanh", [0], F64)
    inputs, targets = _batch("temporal_order", 20, 10, [torch.Generator().manual_seed(DATA_SEED_OFFSET)],
                             torch.tensor([0]), F64)
    _, _, grads = training_gradient(flat, layout, spec, inputs, targets, omega_weights=torch.tensor([2.0], dtype=F64))
    assert torch.equal(one.params, flat - 0.1 * grads)


def test_omega_gradient_is_its_immediate_derivative_wrt_w_rec():
    # g(alpha = 2) - g(alpha = 0) = 2 dOmega/dW_rec with the states and errors held fixed (eq. 10's immediate
    # derivative), by central differences, and 0 for every other parameter
    spec = get_task("temporal_order")
    layout = RNNLayout(spec.input_size, 4, spec.output_size)
    flat = init_params(layout, "basic_tanh", [0], F64)
    inputs, targets = generate("temporal_order", 5, 10, torch.Generator().manual_seed(3))
    inputs, targets = inputs[None].to(F64), targets[None]
    alpha = torch.tensor([2.0], dtype=F64)
    _, reg, with_omega = training_gradient(flat, layout, spec, inputs, targets, omega_weights=alpha)
    _, no_reg, without = training_gradient(flat, layout, spec, inputs, targets)
    assert no_reg is None and float(reg) > 0
    params = flat.clone().requires_grad_(True)
    outputs, states = forward(params, layout, inputs)
    errors = torch.autograd.grad(loss_per_run(spec, outputs, targets).sum(), states)
    states, errors = [h.detach() for h in states], [d.detach() for d in errors]
    w_rec, step = layout.unflatten(flat)["w_rec"], 1e-6
    numeric = torch.zeros_like(w_rec)
    for i in range(4):
        for j in range(4):
            e = torch.zeros_like(w_rec)
            e[0, i, j] = step
            numeric[0, i, j] = (omega(states, errors, w_rec + e) - omega(states, errors, w_rec - e)).item() / (2 * step)
    rec = layout.slices()["w_rec"]
    difference = with_omega - without
    assert float(numeric.abs().max()) > 1e-3
    assert torch.allclose(difference[:, rec], 2 * numeric.reshape(1, -1), rtol=1e-6, atol=1e-9)
    assert float(difference[:, : rec.start].abs().max()) < 1e-12 and float(difference[:, rec.stop:].abs().max()) < 1e-12


def test_train_resumes_from_its_state():
    settings = dict(seeds=(0, 1), clip_thresholds=(None, 1.0), hidden_size=8, eval_every=20, eval_size=50)
    whole = train("temporal_order", 10, max_iterations=60, **settings)
    first = train("temporal_order", 10, max_iterations=40, **settings)
    rest = train("temporal_order", 10, max_iterations=20, resume=first.state, **settings)
    assert torch.equal(rest.params, whole.params) and torch.equal(rest.solved_at, whole.solved_at)
    assert torch.equal(torch.cat([first.grad_norm, rest.grad_norm]).nan_to_num(), whole.grad_norm.nan_to_num())
    assert rest.eval_steps.tolist() == [60] and torch.equal(rest.eval_error[-1], whole.eval_error[-1])
    with pytest.raises(ValueError, match="resume"):
        train("temporal_order", 10, max_iterations=1, resume=first.state, **{**settings, "hidden_size": 9})


# ----------------------------------------------------------------------------- bad input

def test_bad_input_names_the_parameter():
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="length"):
        generate("temporal_order", 4, 1, gen)
    with pytest.raises(ValueError, match="length"):
        train("temporal_order", 1, max_iterations=1)
    with pytest.raises(ValueError, match="hidden_size"):
        train("temporal_order", 10, hidden_size=0, max_iterations=1)
    with pytest.raises(ValueError, match="hidden_size"):
        RNNLayout(6, 0, 4)
    with pytest.raises(ValueError, match="temporal_order, temporal_order_3bit, addition"):
        generate("copy", 4, 10, gen)
    with pytest.raises(ValueError, match="task"):
        train("copy", 10, max_iterations=1)
    with pytest.raises(ValueError, match="clip_threshold"):
        descend(torch.tensor([[5.0, -2.0]], dtype=F64), 0.1, 0.0, steps=1)
    with pytest.raises(ValueError, match="clip_threshold"):
        train("temporal_order", 10, clip_thresholds=(-1.0,), max_iterations=1)
    layout = RNNLayout(2, 3, 1)
    with pytest.raises(ValueError, match="clip_threshold"):
        clip_with_nan_guard(torch.ones(1, layout.size), torch.ones(1, layout.size), layout, 0.0)


def test_an_inf_threshold_is_no_clipping():
    starts = torch.tensor([[5.0, -2.3], [4.8, -2.4]], dtype=F64)
    plain = descend(starts, 0.5, None, steps=40)
    per_run = descend(starts, 0.5, torch.tensor([math.inf, 1.0], dtype=F64), steps=40)
    assert torch.equal(per_run.iterates[:, 0], plain.iterates[:, 0])  # the inf run is plain GD
    assert not torch.equal(per_run.iterates[:, 1], plain.iterates[:, 1])  # the c = 1 run is clipped
