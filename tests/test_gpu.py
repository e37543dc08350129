"""GPU checks: ``pytest -m gpu`` (``make gpu-check``). Every test here skips without CUDA.

* Every family's claims hold on cuda (``STEPLAB_DEVICE=cuda:0``: every experiment computes there, the CPU
  fast path off) and print the same checked text as on the CPU (claims print bands and booleans, so a
  different random stream on the GPU must not change them).
* The engines' results are on cuda, agree with the CPU within tolerances (bit-level agreement is not expected:
  other kernels, other reduction orders, CUDA's Philox stream), and no hot loop waits for the device per step
  (``torch.cuda.set_sync_debug_mode("warn")`` warns on every synchronising call; the count must not grow with
  the steps).
The dashboard pages' GPU AppTests are in tests/test_gpu_app.py.
"""

from __future__ import annotations

import importlib
import warnings

import pytest
import torch

from steplab import claims
from steplab.device import DEVICE_ENV_VAR, resolve_device

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

FAMILIES = ("tour", "clipping", "logistic", "diffusion", "rnn")
CACHED = ("steplab.clipping.experiments", "steplab.logistic.experiments", "steplab.logistic.studies",
          "steplab.diffusion.experiments", "steplab.diffusion.sweeps", "steplab.rnn.experiments",
          "steplab.diffusion.orders")


def _clear_caches() -> None:
    """Forget every cached experiment, so that the next call computes on the device now asked for."""
    for name in CACHED:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _claims_on(device: str, family: str, monkeypatch) -> dict:
    monkeypatch.setenv(DEVICE_ENV_VAR, device)
    _clear_caches()
    try:
        return {c.id: claims.check(c.id) for c in claims.all_claims(family)}
    finally:
        _clear_caches()


@pytest.mark.parametrize("family", FAMILIES)
def test_claims_hold_on_cuda_and_print_what_the_cpu_prints(family, monkeypatch):
    on_cpu = _claims_on("cpu", family, monkeypatch)
    on_cuda = _claims_on("cuda:0", family, monkeypatch)
    failed = [f"{i}: measured {o.result.measured}" for i, o in on_cuda.items() if claims.mark(o) == "✗"]
    assert not failed, f"claims failing on cuda: {failed}"
    for claim_id, outcome in on_cuda.items():
        assert claims.mark(outcome) == claims.mark(on_cpu[claim_id]), claim_id
        assert outcome.result.measured == on_cpu[claim_id].result.measured, claim_id


def test_the_cpu_fast_path_is_taken_only_for_tiny_work_on_an_auto_detected_gpu(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    assert resolve_device(None).type == "cuda"
    assert resolve_device(None, work_items=8).type == "cpu"
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda:0")
    assert resolve_device(None, work_items=8).type == "cuda"


# ----------------------------------------------------------------------------- engines: where, agreement, syncs

def _trajectory(device, steps=200, noise_sigma=0.0):
    from steplab.playground import RunConfig, make_problem, overlay_transform
    from steplab.trajectory import run

    configs = [RunConfig("gd", 0.1), RunConfig("heavy_ball", 0.05, 0.9, 1.0), RunConfig("nesterov", 0.05, 0.5),
               RunConfig("gd", 0.25)]  # the last diverges (eta > 2/L = 0.2)
    problem = make_problem("quadratic", noise_sigma=noise_sigma, device=device)
    x0 = torch.tensor([[-1.5, 2.0]], dtype=torch.float64, device=device).repeat(len(configs), 1)
    return run(problem, overlay_transform(configs, device=device), x0, steps, seed=0)


def _bias(device, steps=4000):
    from steplab.clipping.simulate import simulate_bias
    from steplab.noise import TwoPointNoise

    return simulate_bias(torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64), 0.01, TwoPointNoise(1.0, 0.1),
                         chains=256, steps=steps, device=device)


def _gd(device, steps=500):
    from steplab.logistic.algorithms import run_gd
    from steplab.logistic.data import digits_pair

    data = digits_pair(3, 8)  # small steps (0.1, 1): a stable regime, where rounding differences do not grow
    return run_gd(data.features, data.labels, torch.tensor([0.1, 1.0], dtype=torch.float64), steps, device=device)


def _sample(device, method, steps=12, guidance=2.0):
    from steplab.diffusion import gmm
    from steplab.diffusion.samplers import sample

    model = gmm.random_gmm()  # guidance 2: no sample diverges, so CPU and GPU can be compared number by number
    return sample(model, method, steps, guidance, gmm.noise(256, 64, device=device),
                  gmm.balanced_labels(256, 10, device))


def _train(device, iterations=40):
    from steplab.rnn.train import train

    return train("temporal_order", 10, seeds=(0, 1), clip_thresholds=(None, 1.0), omega_weights=(0.0, 2.0),
                 hidden_size=16, batch=8, max_iterations=iterations, eval_every=20, eval_size=64, device=device)


def test_engines_compute_on_cuda():
    assert _trajectory("cuda").loss.device.type == "cuda"
    assert _bias("cuda", 300).bias.device.type == "cuda"
    assert _gd("cuda", 20).loss.device.type == "cuda"
    assert _sample("cuda", "ghvb3.5").device.type == "cuda"
    assert _train("cuda", 20).params.device.type == "cuda"


def test_engines_agree_with_the_cpu():
    cpu, cuda = _trajectory("cpu"), _trajectory("cuda").to("cpu")
    assert torch.equal(cpu.diverged_at, cuda.diverged_at)
    alive = cpu.diverged_at < 0
    torch.testing.assert_close(cuda.final[alive], cpu.final[alive], rtol=1e-9, atol=1e-12)
    history_cpu, history_cuda = _gd("cpu"), _gd("cuda")
    assert torch.equal(history_cpu.separated_at, history_cuda.separated_at.cpu())
    torch.testing.assert_close(history_cuda.loss.cpu(), history_cpu.loss, rtol=1e-8, atol=1e-12)
    for method in ("ddim", "plms4", "hb3.8", "ghvb3.5", "dpm++hb0.8"):
        torch.testing.assert_close(_sample("cuda", method).cpu(), _sample("cpu", method), rtol=1e-9, atol=1e-10)
    bias_cpu, bias_cuda = _bias("cpu"), _bias("cuda")  # other noise stream: the same law
    spread = 5 * torch.hypot(bias_cpu.standard_error, bias_cuda.standard_error.cpu()) + 2e-3
    assert bool(((bias_cuda.bias.cpu() - bias_cpu.bias).abs() <= spread).all())
    trained_cpu, trained_cuda = _train("cpu"), _train("cuda")  # same data streams, float32 kernels
    torch.testing.assert_close(trained_cuda.grad_norm[:5].cpu(), trained_cpu.grad_norm[:5], rtol=1e-3, atol=1e-5)


def _sync_warnings(fn) -> int:
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize("engine,short,long,per_long", [
    ("trajectory", 20, 200, 0), ("simulate_bias", 512, 2048, 0), ("run_gd", 20, 200, 0),
    ("sampler", 8, 40, 0), ("rnn_train", 20, 100, 3 * 4)])  # rnn: at each of the 4 extra evaluations
def test_no_hot_loop_waits_for_the_device_per_step(engine, short, long, per_long):
    calls = {"trajectory": lambda n: _trajectory("cuda", n, noise_sigma=0.5),
             "simulate_bias": lambda n: _bias("cuda", n), "run_gd": lambda n: _gd("cuda", n),
             "sampler": lambda n: _sample("cuda", "plms4", n), "rnn_train": lambda n: _train("cuda", n)}
    call = calls[engine]
    call(short)  # warm-up: first-call allocations and kernel loads
    few, many = _sync_warnings(lambda: call(short)), _sync_warnings(lambda: call(long))
    assert many - few <= per_long, f"{engine}: {few} synchronising calls in {short} steps, {many} in {long}"

