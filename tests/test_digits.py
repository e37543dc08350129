"""The trained digits denoiser: stored weights = what the trainer writes, a short retrain retraces the log, samples
are digits; the metrics, the loader API and the figure (steplab.diffusion.digits_*, steplab.plots.diffusion_digits)."""

import json
import math
from dataclasses import asdict, replace

import pytest
import torch

from steplab.diffusion import digits_experiments as de
from steplab.diffusion import noise, sample
from steplab.diffusion.digits_model import (
    INFO_FILE,
    NULL_CLASS,
    WEIGHTS_FILE,
    DigitsNet,
    NetConfig,
    digits_data,
    load_digits_model,
    to_pixels,
)
from steplab.diffusion.schedule import alphas_cumprod
from steplab.diffusion.train_digits import TrainConfig, sha256, train, write

INFO = json.loads(INFO_FILE.read_text())
RETRAIN_STEPS = 100  # one log window (≈5 s on one core)
LOSS_BAND = 0.15  # relative: the retrain's window means within ±15% of the stored log's


def test_stored_weights_are_the_file_the_trainer_recorded():
    assert sha256(WEIGHTS_FILE) == INFO["sha256"]
    assert WEIGHTS_FILE.stat().st_size < 5e6  # a few MB at most
    assert INFO["config"] == asdict(TrainConfig())  # the stored weights were made with the defaults
    assert len(INFO["loss_log"]) == INFO["config"]["steps"] // INFO["config"]["log_every"]
    assert INFO["final_loss"] == INFO["loss_log"][-1] < 0.5 * INFO["loss_log"][0]  # it learned


def _untrained_loss(seed=1, batch=512):
    x0, labels = digits_data()
    generator = torch.Generator().manual_seed(seed)
    t = torch.randint(1000, (batch,), generator=generator)
    eps = torch.randn(batch, 64, generator=generator)
    a = alphas_cumprod().to(torch.float32)[t][:, None]
    x_t = a.sqrt() * x0[:batch] + (1 - a).sqrt() * eps
    torch.manual_seed(seed)
    with torch.no_grad():
        return float((DigitsNet()(x_t, t, labels[:batch]) - eps).pow(2).mean())


def test_a_short_retrain_with_the_same_seed_retraces_the_stored_loss_log():
    with torch.random.fork_rng():
        result = train(TrainConfig(), stop_after=RETRAIN_STEPS, progress=False, device="cpu")
    stored = INFO["loss_log"][: len(result.loss_log)]
    assert len(result.loss_log) == RETRAIN_STEPS // TrainConfig().log_every
    for ours, theirs in zip(result.loss_log, stored):
        assert abs(ours - theirs) <= LOSS_BAND * theirs, (result.loss_log, stored)
    # the band is narrow enough that an untrained net (loss ~1) fails it
    untrained, last = _untrained_loss(), stored[-1]
    assert abs(untrained - last) > LOSS_BAND * last


def test_the_trainer_writes_weights_and_a_record_whose_hash_matches(tmp_path):
    config = replace(TrainConfig(), steps=4, log_every=2, net=NetConfig(width=16, blocks=1, embed=8))
    result = train(config, progress=False, device="cpu")
    record = write(result, config, tmp_path / "w.safetensors", tmp_path / "w.json")
    assert record["sha256"] == sha256(tmp_path / "w.safetensors") == json.loads((tmp_path / "w.json").read_text())[
        "sha256"]
    model = load_digits_model("cpu", tmp_path / "w.safetensors")
    assert model.net.config == config.net and model.info["steps_done"] == 4


def test_ddim_50_samples_are_the_requested_digits():
    run = de.model_check()
    assert run.method == "ddim" and run.steps == 50 and run.guidance == 1.0
    assert 0.9 <= run.accuracy <= 1.0  # our regression value: 0.97 (200 samples, noise seed 0)
    wrong = de.accuracy(run.samples, (run.labels + 1) % 10)  # asking the classifier for the wrong digit
    assert wrong < 0.1
    diverged = run.samples[:4].clone()
    diverged[1, 3], diverged[2, 0] = math.nan, math.inf
    assert list(de.classify(diverged)[1:3]) == [-1, -1] and de.accuracy(diverged, run.labels[:4]) <= 0.5


def test_model_api_shapes_guidance_and_errors():
    model = de.stored_model()
    x = noise(4, 64, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3])
    eps = model.eps_fn(labels, 3.0)(x, torch.tensor(5.0, dtype=torch.float64))
    assert eps.shape == (4, 64) and eps.dtype == torch.float64 and torch.isfinite(eps).all()
    eps_c = model.epsilon(x, 5.0, labels, 1.0)
    eps_u = model.epsilon(x, 5.0, None)
    torch.testing.assert_close(eps, eps_u + 3.0 * (eps_c - eps_u), rtol=1e-5, atol=1e-5)  # ε_u + w(ε_c − ε_u)
    torch.testing.assert_close(eps_u, model.epsilon(x, 5.0, labels, 0.0))  # w = 0: unconditional
    x_t, t = (x / math.sqrt(26.0)).float(), model.timestep(5.0).float()  # x_t = x̄/√(1 + σ²) at σ = 5
    torch.testing.assert_close(eps_u.float(), model.net(x_t, t, torch.full((4,), NULL_CLASS)))
    image = model.net(x.float().reshape(4, 1, 8, 8), torch.tensor(10), labels)
    assert image.shape == (4, 1, 8, 8)
    sigma_100 = float(((1 - alphas_cumprod()[100]) / alphas_cumprod()[100]).sqrt())
    assert float(model.timestep(sigma_100)) == pytest.approx(100.0, abs=1e-6)  # σ_t ↦ t
    with pytest.raises(ValueError, match="labels must be digits"):
        model.eps_fn(torch.tensor([10]), 2.0)
    with pytest.raises(ValueError, match="guidance"):
        model.eps_fn(labels, -1.0)
    pixels = to_pixels(sample(model, "ddim", 5, 1.0, x_T=x.float(), class_labels=labels))
    assert pixels.shape == (4, 8, 8) and float(pixels.min()) >= 0 and float(pixels.max()) <= 16


def test_out_of_range_fraction_counts_beyond_the_margin_and_nan():
    x = torch.tensor([[0.0, 1.2, -1.3, math.nan], [1.0, -1.0, 2.0, -0.5]])
    torch.testing.assert_close(de.out_of_range_fraction(x, margin=0.25), torch.tensor([0.5, 0.25], dtype=torch.float64))
    with pytest.raises(ValueError, match="margin"):
        de.out_of_range_fraction(x, margin=-0.1)


def test_digits_grid_table_and_figure():
    methods, steps = ("ddim", "plms4", "hb3.8"), (5, 8)
    grid = de.digits_grid(methods, steps, batch=20)
    assert grid.out_of_range.shape == (3, 2) == grid.accuracy.shape and grid.pictures.shape == (3, 2, 10, 64)
    assert grid.value("out_of_range", "plms4", 8) > grid.value("out_of_range", "hb3.8", 8)
    table = grid.table().splitlines()
    assert len(table) == len(methods) + 2 and table[1].startswith("ddim") and "w = 3" in table[-1]
    plt = pytest.importorskip("matplotlib.pyplot")
    from steplab.plots import diffusion_digits

    fig = plt.figure(figsize=(9, 10))
    axes = diffusion_digits.sample_grid(fig, grid, de.OUT_OF_RANGE_MARGIN)
    assert axes.shape == (3, 2) and axes[0, 0].get_title() == "N = 5" and axes[2, 0].get_ylabel() == "hb3.8"
    assert diffusion_digits.mosaic(grid.pictures[0, 0]).shape == (17, 44)
    plt.close(fig)
