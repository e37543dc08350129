"""The device rule on a CPU-only machine: engines create nothing on the CPU by accident, copy nothing onto the
device in every step and do not wait for the host every step (the tools are in tests/device_audit.py).

* ``meta`` stands in for an accelerator: every family's engine runs with ``device="meta"`` (or meta inputs) under
  :class:`device_audit.DeviceAudit`, which catches what meta alone lets through (a 0-d CPU tensor mixes with
  meta tensors silently); meta tensors have no values, so a meta run is also a run without host syncs.
* On the CPU, :class:`device_audit.SyncCount` counts the calls that copy a value to the host; the count must not
  grow with the steps (a data-dependent early stop is checked every ``steplab.device.host_check_interval``
  steps: 1 on the CPU, so those tests set it as on a GPU or allow one check per chunk or evaluation).
"""

from __future__ import annotations

import math

import pytest
import torch
from device_audit import META, DeviceAudit, assert_no_sync_per_step, assert_stays_on_meta, on_meta, syncs
from torch.utils._python_dispatch import _disable_current_modes

from steplab import device as steplab_device
from steplab.device import resolve_device, to_host
from steplab.playground import RunConfig, make_problem, overlay_transform
from steplab.trajectory import run

# ----------------------------------------------------------------------------- the policy itself

def test_resolve_device_honours_an_explicit_device_and_defaults_to_default_device(monkeypatch):
    assert resolve_device("meta") == META
    assert resolve_device(None) == steplab_device.default_device()
    monkeypatch.setattr(steplab_device, "default_device", lambda: torch.device("cuda:0"))
    monkeypatch.delenv(steplab_device.DEVICE_ENV_VAR, raising=False)
    limit = steplab_device.CPU_FAST_PATH_MAX_ITEMS
    assert resolve_device(None, work_items=limit) == torch.device("cpu")  # tiny work: the CPU fast path
    assert resolve_device(None, work_items=limit + 1) == torch.device("cuda:0")
    assert resolve_device(None) == torch.device("cuda:0")  # no size given: the default device
    monkeypatch.setenv(steplab_device.DEVICE_ENV_VAR, "cuda:0")  # asked for explicitly: no fast path
    assert resolve_device(None, work_items=1) == torch.device("cuda:0")


def test_host_check_interval_and_to_host():
    assert steplab_device.host_check_interval("cpu") == 1
    assert steplab_device.host_check_interval("meta") == steplab_device.ACCELERATOR_CHECK_INTERVAL > 1
    cpu = torch.ones(2)
    assert to_host(cpu) is cpu  # nothing moves on the CPU
    trajectory = _playground_run("cpu", 3)
    moved = to_host({"a": (trajectory, 3.0), "b": [RunConfig()]})
    assert moved["a"][0].loss is trajectory.loss and moved["a"][1] == 3.0 and moved["b"] == [RunConfig()]
    with pytest.raises(NotImplementedError):  # it does move: meta tensors cannot be copied out
        to_host([torch.ones(2, device="meta")])


def test_make_generator_defaults_to_the_resolved_device():
    assert steplab_device.make_generator(0).device == resolve_device(None)
    assert steplab_device.make_generator(0, "meta").device.type == "cpu"  # meta draws nothing


# ----------------------------------------------------------------------------- core: trajectory + playground

CONFIGS = [RunConfig("gd", 0.1), RunConfig("heavy_ball", 0.05, 0.9, 1.0), RunConfig("nesterov", 0.05, 0.5)]


def _playground_run(device, steps: int, name: str = "quadratic", noise_sigma: float = 0.5):
    problem = make_problem(name, noise_sigma=noise_sigma, device=device)
    transform = overlay_transform(CONFIGS, device=device)
    x0 = torch.tensor([[-1.5, 2.0]], dtype=torch.float64).repeat(len(CONFIGS), 1).to(device)
    return run(problem, transform, x0, steps, seed=3)


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "cosh"])
def test_trajectory_run_stays_on_the_requested_device(name):
    problem = make_problem(name, noise_sigma=0.5, device=META)
    transform = overlay_transform(CONFIGS, device=META)
    x0 = torch.zeros(len(CONFIGS), 2, dtype=torch.float64, device=META)
    trajectory = on_meta(run, problem, transform, x0, 12, seed=3)
    assert trajectory.loss.device == META and trajectory.diverged_at.device == META
    assert trajectory.recorded_steps.device == META


def test_trajectory_run_does_not_sync_with_the_host_per_step():
    assert_no_sync_per_step(lambda steps: (lambda: _playground_run("cpu", steps)), 10, 80)


def test_trajectory_run_refuses_a_generator_on_another_device():
    problem = make_problem("quadratic", device="cpu")
    x0 = torch.zeros(3, 2, dtype=torch.float64)

    class Elsewhere:  # a stand-in for a CUDA generator on a CPU-only machine
        device = torch.device("cuda:0")

    with pytest.raises(ValueError, match="generator is on cuda:0"):
        run(problem, overlay_transform(CONFIGS, device="cpu"), x0, 2, generator=Elsewhere())


def test_playground_readouts_follow_the_iterates_device():
    from steplab.playground import measured_rates

    iterates = torch.zeros(9, 3, 2, dtype=torch.float64, device=META)
    rates = on_meta(measured_rates, iterates, torch.zeros(2, device=META), torch.full((3,), -1, device=META))
    assert rates.device == META and rates.shape == (3,)
    assert math.isnan(float(measured_rates(torch.zeros(2, 1, 2), [0.0, 0.0], [-1])[0]))


# ----------------------------------------------------------------------------- clipping

def test_clipping_simulate_bias_stays_on_the_requested_device():
    from steplab.clipping.simulate import simulate_bias
    from steplab.noise import TwoPointNoise

    configs = dict(clip_threshold=torch.tensor([1.0, math.inf], dtype=torch.float64), step_size=0.01,
                   noise=TwoPointNoise(1.0, 0.1), batch_size=torch.tensor([1, 4]),
                   per_sample=torch.tensor([True, False]))

    def call(steps):  # 16384 chains (free on meta) make the noise blocks 16 steps long: 2 blocks, then 4
        return lambda: simulate_bias(**configs, chains=16384, steps=steps, record_every=8, device=META)

    result = assert_stays_on_meta(call, 32, 64)
    assert result.bias.device == META and result.trace_steps.device == META and result.paths.device == META


def test_clipping_simulate_bias_does_not_sync_per_step():
    from steplab.clipping.simulate import simulate_bias
    from steplab.noise import ExpNoise

    def call(steps):
        return lambda: simulate_bias(torch.tensor([1.0, 2.0]), 0.01, ExpNoise(), chains=8, steps=steps, record_every=5)

    assert_no_sync_per_step(call, 100, 600)


def test_clipping_hitting_times_checks_its_stop_once_per_chunk():
    from steplab.clipping.deterministic import hitting_times
    from steplab.problems import Cosh

    x0 = torch.full((3, 1), 10.0, dtype=torch.float64, device=META)
    thresholds = torch.tensor([1.0, 4.0, math.inf], dtype=torch.float64, device=META)
    with DeviceAudit(META) as audit:  # the first chunk runs on meta; the stop after it is a host decision
        with pytest.raises(RuntimeError, match="meta"):
            hitting_times(Cosh(device=META), x0, 0.5, thresholds, max_steps=64, chunk=64)
    assert not audit.strays, audit.strays[:5]
    x0 = torch.full((2, 1), 10.0, dtype=torch.float64)
    eta = torch.tensor([1e-3, 2e-3], dtype=torch.float64)  # plain GD on cosh: slow, so every chunk runs in full
    assert_no_sync_per_step(lambda steps: (lambda: hitting_times(Cosh(device="cpu"), x0, eta, math.inf, max_steps=steps,
                                                                 chunk=64)), 128, 640, allowed_growth=8)


def test_clipping_robust_sgd_and_median_tracker_stay_on_the_requested_device():
    from steplab.clipping.median import contaminated_gradients, track
    from steplab.clipping.robust import robust_sgd

    runs = assert_stays_on_meta(lambda steps: (lambda: robust_sgd(steps=steps, chains=4, device=META)), 30, 90)
    assert runs.tail_average.device == META and runs.steps.device == META
    stream = contaminated_gradients(50, runs=2).to(META)
    paths = on_meta(track, stream, record_every=10)
    assert paths.final_median.device == META and paths.steps.device == META
    assert_no_sync_per_step(lambda steps: (lambda: robust_sgd(steps=steps, chains=4, device="cpu")), 40, 200)


# ----------------------------------------------------------------------------- logistic

@pytest.mark.parametrize("method", ["lr_gd", "capped_lr_gd", "normalized_lr_gd", "batch_perceptron", "perceptron"])
def test_logistic_run_gd_stays_on_the_requested_device(method):
    from steplab.logistic.algorithms import run_gd
    from steplab.logistic.data import wu_toy

    data = wu_toy()
    gammas = torch.tensor([1.0, 10.0], dtype=torch.float64)
    history = assert_stays_on_meta(lambda steps: (lambda: run_gd(data.features, data.labels, gammas, steps, method,
                                                                 device=META)), 10, 40)
    assert history.loss.device == META and history.weights.device == META and history.separated_at.device == META


def test_logistic_run_gd_checks_its_early_stop_on_the_host_only_every_interval(monkeypatch):
    from steplab.logistic.algorithms import run_gd
    from steplab.logistic.data import wu_toy

    data = wu_toy()
    gammas = torch.tensor([1e-3, 2e-3], dtype=torch.float64)  # slow: no run separates within the steps

    def call(steps):
        return lambda: run_gd(data.features, data.labels, gammas, steps, stop_at_separation=True, device="cpu")

    monkeypatch.setattr("steplab.logistic.algorithms.host_check_interval", lambda device: 16)  # as on a GPU
    assert_no_sync_per_step(call, 32, 320, allowed_growth=18)


def test_logistic_spike_and_softmax_training_stay_on_the_requested_device():
    from steplab.logistic import softmax, spike

    split = softmax.digits_split()
    params = assert_stays_on_meta(lambda steps: (lambda: softmax.train(split, steps, device=META)), 5, 20)
    assert params.device == META
    runs = assert_stays_on_meta(lambda steps: (lambda: spike.spike_test(factors=(10.0,), seeds=(0,), steps=steps,
                                                                        every=5, spike_start=2, spike_end=4,
                                                                        split=split, device=META)), 5, 15)
    assert runs.loss.device == META and runs.r.device == META


# ----------------------------------------------------------------------------- diffusion

@pytest.mark.parametrize("method", ["ddim", "plms4", "hb3.8", "nt2.9", "ghvb3.5", "dpm++", "dpm++hb0.8"])
def test_diffusion_samplers_stay_on_the_requested_device(method):
    from steplab.diffusion import gmm
    from steplab.diffusion.samplers import sample

    model = gmm.random_gmm(classes=4, dim=8)
    x_T = gmm.noise(16, 8, device=META)
    samples = assert_stays_on_meta(lambda steps: (lambda: sample(model, method, steps, x_T=x_T)), 8, 24)
    assert samples.device == META


def test_diffusion_reference_rk4_stays_on_the_requested_device():
    from steplab.diffusion import gmm
    from steplab.diffusion.metrics import reference_samples

    model = gmm.ring_gmm()
    x_T = gmm.noise(16, 2, device=META)
    reference = assert_stays_on_meta(lambda steps: (lambda: reference_samples(model, 0.0, x_T, steps=steps)), 10, 40)
    assert reference.device == META


def test_diffusion_samplers_do_not_sync_per_step():
    from steplab.diffusion import gmm
    from steplab.diffusion.samplers import sample

    model = gmm.random_gmm(classes=4, dim=8)
    x_T, labels = gmm.noise(16, 8, device="cpu"), gmm.balanced_labels(16, 4, "cpu")
    for method in ("plms4", "ghvb3.5", "dpm++hb0.8"):
        assert_no_sync_per_step(lambda steps, m=method: (lambda: sample(model, m, steps, 15.0, x_T, labels)), 10, 60)


# ----------------------------------------------------------------------------- rnn

@pytest.mark.parametrize("task,omega", [("temporal_order", 0.0), ("addition", 2.0)])
def test_rnn_training_stays_on_the_requested_device(task, omega, monkeypatch):
    from steplab.rnn import train as train_module
    from steplab.rnn.train import train

    made_on_cpu = train_module._batch

    def batch_on_meta(*args):  # the data streams are CPU generators by design (train._batch): audit the rest
        with _disable_current_modes():
            inputs, targets = made_on_cpu(*args)
        assert inputs.device == META and targets.device == META  # copied to the training device
        return inputs, targets

    monkeypatch.setattr(train_module, "_batch", batch_on_meta)

    def call(steps):
        return lambda: train(task, 6, seeds=(0, 1), clip_thresholds=(None, 1.0), omega_weights=(0.0, omega),
                             hidden_size=8, batch=4, max_iterations=steps, eval_every=1000, eval_size=8, device=META)

    result = assert_stays_on_meta(call, 3, 9)
    assert result.params.device == META and result.grad_norm.device == META and result.solved_at.device == META


def test_rnn_training_looks_at_the_host_only_at_evaluations():
    from steplab.rnn.train import train

    def call(steps):
        return lambda: train("temporal_order", 6, seeds=(0, 1), clip_thresholds=(None, 1.0), hidden_size=8, batch=4,
                             max_iterations=steps, eval_every=10, eval_size=8, device="cpu")

    few, many = syncs(call(10)), syncs(call(60))  # 1 and 6 evaluations
    # per evaluation period: "is a run still active?" and the transform's one check of its thresholds (2 calls)
    assert many - few <= 5 * 3, f"{few} host syncs in 10 steps, {many} in 60"


def test_rnn_cliff_descent_stays_on_the_requested_device():
    from steplab.rnn.cliff import descend, random_wall_starts

    starts = random_wall_starts(6, device=META)
    trajectory = assert_stays_on_meta(lambda steps: (lambda: descend(starts, 0.5, 1.0, steps)), 5, 20)
    assert trajectory.final.device == META


def test_a_quadratic_follows_its_iterates_to_their_device():
    from steplab.problems import Quadratic

    problem = Quadratic([1.0, 10.0], rotation=0.3, minimizer=torch.tensor([1.0, -2.0]), device="cpu")
    x0 = torch.zeros(3, 2, dtype=torch.float64, device=META)
    trajectory = assert_stays_on_meta(lambda steps: (lambda: run(problem, overlay_transform(CONFIGS, device=META), x0,
                                                                 steps)), 5, 20)
    assert trajectory.final.device == META and problem.matrix.device.type == "cpu"
    assert problem.hessian(x0).device == META and problem.to_eigenbasis(x0).device == META


def test_tests_compute_on_the_cpu_unless_marked_gpu():
    import os

    assert os.environ[steplab_device.DEVICE_ENV_VAR] == "cpu"  # tests/conftest.py: make test is CPU everywhere


def test_per_run_hyper_parameters_made_elsewhere_are_copied_once_not_every_step():
    problem = make_problem("quadratic", noise_sigma=0.5, device=META)
    transform = overlay_transform(CONFIGS, device="cpu")  # per-run tensors on the CPU, runs on meta
    x0 = torch.zeros(len(CONFIGS), 2, dtype=torch.float64, device=META)
    assert_stays_on_meta(lambda steps: (lambda: run(problem, transform, x0, steps, seed=0)), 5, 25)
