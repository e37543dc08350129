"""steplab.diffusion.schedulers: HB and GHVB as diffusers schedulers, against steplab's own samplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from steplab.device import cpu_threads  # noqa: E402
from steplab.diffusion import balanced_labels, noise, random_gmm, sample, sigma_grid  # noqa: E402
from steplab.diffusion.digits_model import NULL_CLASS, DigitsModel, DigitsNet, load_digits_model  # noqa: E402
from steplab.diffusion.schedule import linear_timesteps, sigma_from_alpha_bar  # noqa: E402
from steplab.diffusion.schedulers import GHVBScheduler, HeavyBallScheduler  # noqa: E402

pytestmark = pytest.mark.diffusers


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with cpu_threads(1):
        yield


def vp_model(eps_bar, alpha_bar: torch.Tensor):
    """ε_θ(x_t, t) = ε̄(x_t/√ᾱ_t, σ_t): diffusers' coordinates from steplab's ε̄(x̄, σ)."""
    def model(x_t: torch.Tensor, t) -> torch.Tensor:
        ab = alpha_bar[int(t)].to(x_t.dtype)
        return eps_bar(x_t / ab.sqrt(), sigma_from_alpha_bar(ab))
    return model


def scheduler_loop(scheduler, model, x_T: torch.Tensor, steps: int) -> torch.Tensor:
    """The loop every diffusers pipeline runs."""
    scheduler.set_timesteps(steps, device=x_T.device)
    x = x_T * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        x = scheduler.step(model(scheduler.scale_model_input(x, t), t), t, x).prev_sample
    return x


CASES = [  # (scheduler class, its config, steplab's name for the same sampler)
    (HeavyBallScheduler, {"beta": 0.8}, "hb3.8"),
    (HeavyBallScheduler, {"beta": 0.5, "solver_order": 2}, "hb1.5"),
    (GHVBScheduler, {"beta": 0.8}, "ghvb3.8"),
    (GHVBScheduler, {"beta": 0.5, "solver_order": 3}, "ghvb2.5"),
    (HeavyBallScheduler, {"beta": 0.8, "solver_order": 2, "base_solver": "dpmsolver++"}, "dpm++hb0.8"),
]


@pytest.mark.parametrize("cls, config, name", CASES)
@pytest.mark.parametrize("steps", [6, 20])
def test_scheduler_loop_equals_steplabs_sampler_on_a_gaussian_mixture(cls, config, name, steps):
    model = random_gmm(classes=10, dim=16, std=0.2, seed=3)
    labels = balanced_labels(40, model.classes)
    eps_bar, x_T = model.eps_fn(labels, 6.0), noise(40, 16, seed=5)
    scheduler = cls(**config)
    x_0 = scheduler_loop(scheduler, vp_model(eps_bar, scheduler.alphas_cumprod), x_T, steps)
    ours = sample(model, name, steps, 6.0, x_T, labels)  # x̄ at t = 0
    assert torch.allclose(x_0 / scheduler.alphas_cumprod[0].sqrt(), ours, rtol=0, atol=1e-5)
    assert ours.abs().max() > 0.5  # the samples moved to the class means (not a trivial zero match)


@pytest.mark.parametrize("cls, config, name", CASES[:3])
def test_scheduler_loop_equals_steplabs_sampler_on_a_digits_network(cls, config, name):
    torch.manual_seed(0)
    model = DigitsModel(DigitsNet().to("cpu"))  # same ε̄ either way; the trained weights are tested below
    labels = balanced_labels(20, 10)
    x_T = noise(20, 64, seed=2)
    scheduler = cls(**config)
    eps_bar = model.eps_fn(labels, 3.0)
    x_0 = scheduler_loop(scheduler, vp_model(eps_bar, scheduler.alphas_cumprod), x_T, 8)
    ours = sample(model, name, 8, 3.0, x_T, labels)
    assert torch.allclose(x_0 / scheduler.alphas_cumprod[0].sqrt(), ours, rtol=0, atol=1e-5)


def test_beta_one_is_plms_and_momentum_changes_the_result():
    model = random_gmm(classes=10, dim=16, std=0.2, seed=3)
    labels = balanced_labels(40, model.classes)
    eps_bar, x_T = model.eps_fn(labels, 6.0), noise(40, 16, seed=5)
    finals = {}
    for key, scheduler in {"hb1": HeavyBallScheduler(beta=1.0), "ghvb1": GHVBScheduler(beta=1.0),
                           "hb0.8": HeavyBallScheduler(beta=0.8)}.items():
        finals[key] = scheduler_loop(scheduler, vp_model(eps_bar, scheduler.alphas_cumprod), x_T, 8)
    plms4 = sample(model, "plms4", 8, 6.0, x_T, labels) * HeavyBallScheduler().alphas_cumprod[0].sqrt()
    assert torch.allclose(finals["hb1"], plms4, atol=1e-10) and torch.allclose(finals["ghvb1"], plms4, atol=1e-10)
    assert (finals["hb0.8"] - plms4).abs().max() > 1e-3


def test_config_round_trip_keeps_beta_and_the_rest(tmp_path):
    source = diffusers.DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                     prediction_type="v_prediction")
    for cls, extra in [(HeavyBallScheduler, {"base_solver": "dpmsolver++", "solver_order": 2}),
                       (GHVBScheduler, {"solver_order": 3})]:
        scheduler = cls.from_config(source.config, beta=0.7, **extra)
        assert scheduler.config.beta == 0.7 and scheduler.config.beta_schedule == "scaled_linear"
        assert scheduler.config.prediction_type == "v_prediction"
        # the schedule is diffusers' (our float64 ᾱ against its float32 one)
        assert torch.allclose(scheduler.alphas_cumprod.float(), source.alphas_cumprod, atol=1e-6)
        folder = tmp_path / cls.__name__
        scheduler.save_config(folder)
        back = cls.from_pretrained(folder)
        public = {k: v for k, v in scheduler.config.items() if not k.startswith("_")}
        assert {k: back.config[k] for k in public} == public and type(back) is cls
        assert back.method == scheduler.method  # same sampler (family, order, beta)


def test_from_a_ddpm_config_and_back_to_ddim():
    hb = HeavyBallScheduler.from_config(diffusers.DDPMScheduler().config, beta=0.8)
    assert (hb.config.beta, hb.config.solver_order) == (0.8, 4)
    ddim = diffusers.DDIMScheduler.from_config(hb.config)
    assert ddim.config.beta_end == hb.config.beta_end and "DDIMScheduler" in {c.__name__ for c in hb.compatibles}


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_set_timesteps_puts_the_timesteps_on_the_device(device):
    scheduler = GHVBScheduler()
    scheduler.set_timesteps(10, device=device)
    assert scheduler.timesteps.device.type == device and len(scheduler.timesteps) == 10
    scheduler.set_timesteps(4, device="cpu")
    assert scheduler.timesteps.tolist() == [999, 749, 500, 250]  # round(linspace(999, 0, N + 1)) without t_N = 0


def test_set_timesteps_without_a_device_uses_steplabs_default(monkeypatch):
    monkeypatch.setenv("STEPLAB_DEVICE", "meta")
    scheduler = HeavyBallScheduler()
    scheduler.set_timesteps(5)
    assert scheduler.timesteps.device.type == "meta"


@pytest.mark.parametrize("cls, config, match", [
    (HeavyBallScheduler, {"beta": 1.2}, "beta"), (HeavyBallScheduler, {"beta": 0.0}, "beta"),
    (GHVBScheduler, {"beta": -0.5}, "beta"), (GHVBScheduler, {"solver_order": 5}, "order"),
    (HeavyBallScheduler, {"base_solver": "dpmsolver++"}, "solver_order must be 2"),
    (HeavyBallScheduler, {"base_solver": "unipc"}, "base_solver"),
    (GHVBScheduler, {"prediction_type": "flow"}, "prediction_type"),
    (GHVBScheduler, {"beta_schedule": "cosine"}, "beta_schedule"),
])
def test_bad_config_raises_a_clear_error(cls, config, match):
    with pytest.raises(ValueError, match=match):
        cls(**config)


def test_bad_steps_and_out_of_order_steps_raise():
    scheduler = HeavyBallScheduler()
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="set_timesteps"):
        scheduler.step(x, 999, x)
    for steps in (0, -3, 2.5, 1000):
        with pytest.raises(ValueError, match="num_inference_steps"):
            scheduler.set_timesteps(steps)
    scheduler.set_timesteps(5, device="cpu")
    with pytest.raises(ValueError, match="not in scheduler.timesteps"):
        scheduler.step(x, 998, x)
    scheduler.step(x, scheduler.timesteps[0], x)
    with pytest.raises(ValueError, match="in order"):
        scheduler.step(x, scheduler.timesteps[2], x)


def test_prediction_types_give_the_same_step():
    """v- and x0-prediction outputs converted back to ε give the ε-prediction result."""
    model = random_gmm(classes=10, dim=16, std=0.2, seed=3)
    eps_bar, x_T = model.eps_fn(balanced_labels(8, 10), 4.0), noise(8, 16, seed=1)
    results = {}
    for kind in ("epsilon", "v_prediction", "sample"):
        scheduler = HeavyBallScheduler(prediction_type=kind)
        eps_model = vp_model(eps_bar, scheduler.alphas_cumprod)

        def model_output(x, t, eps_model=eps_model, kind=kind, ab=scheduler.alphas_cumprod):
            eps, a = eps_model(x, t), ab[int(t)]
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            return {"epsilon": eps, "v_prediction": a.sqrt() * eps - (1 - a).sqrt() * x0, "sample": x0}[kind]
        results[kind] = scheduler_loop(scheduler, model_output, x_T, 6)
    assert torch.allclose(results["v_prediction"], results["epsilon"], atol=1e-8)
    assert torch.allclose(results["sample"], results["epsilon"], atol=1e-8)


class DigitsPipeline(diffusers.DiffusionPipeline):
    """A class-conditional pipeline with classifier-free guidance, written as diffusers' pipelines are."""

    def __init__(self, net, scheduler):
        super().__init__()
        self.register_modules(net=net, scheduler=scheduler)

    @torch.no_grad()
    def __call__(self, labels: torch.Tensor, num_inference_steps: int = 10, guidance: float = 2.0, seed: int = 0):
        device = next(self.net.parameters()).device
        x = noise(len(labels), 64, seed=seed, dtype=torch.float32, device=device) * self.scheduler.init_noise_sigma
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        both = torch.cat([labels.to(device), torch.full_like(labels.to(device), NULL_CLASS)])
        for t in self.progress_bar(self.scheduler.timesteps):
            x_in = self.scheduler.scale_model_input(torch.cat([x, x]), t)
            eps_c, eps_u = self.net(x_in, t, both).chunk(2)
            x = self.scheduler.step(eps_u + guidance * (eps_c - eps_u), t, x).prev_sample  # ε̂ = ε_u + w(ε_c − ε_u)
        return x


def test_a_diffusers_pipeline_samples_the_requested_digits_with_the_schedulers():
    from steplab.diffusion.digits_experiments import accuracy, out_of_range_fraction

    model = load_digits_model(device="cpu")
    pipe = DigitsPipeline(model.net, diffusers.DDIMScheduler())
    pipe.set_progress_bar_config(disable=True)
    labels = balanced_labels(40, 10)
    for scheduler in (HeavyBallScheduler.from_config(pipe.scheduler.config, beta=0.8),
                      GHVBScheduler.from_config(pipe.scheduler.config, beta=0.8)):
        pipe.scheduler = scheduler
        x = pipe(labels, num_inference_steps=15, guidance=2.0)
        assert x.shape == (40, 64) and bool(torch.isfinite(x).all())
        # pixels outside [−1.25, 1.25]: 4.8 % (HB) and 5.0 % (GHVB) here, 4.5 % for DDIM at N = 50 (our regression
        # values); PLMS4 makes 16 % at this N and w
        assert float(out_of_range_fraction(x).mean()) <= 0.1
        assert accuracy(x, labels) >= 0.9  # the requested digits (1.0 here)


def test_diffusers_ddpm_pipeline_runs_with_the_schedulers():
    """diffusers' own DDPMPipeline (a small random UNet2DModel) with our scheduler swapped in (it calls
    set_timesteps without a device and step(..., generator=)) gives steplab's sampler on the same network."""
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), norm_num_groups=4,
                                 down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D")).eval()
    pipe = diffusers.DDPMPipeline(unet=unet, scheduler=diffusers.DDPMScheduler())
    pipe.set_progress_bar_config(disable=True)
    grid, timesteps = sigma_grid(6), linear_timesteps(6)

    @torch.no_grad()
    def eps_bar(x_bar, sigma):  # ε̄(x̄, σ_n) = ε_θ(x̄/√(1 + σ²), t_n) on the 6-step grid
        t = timesteps[int((grid == sigma).nonzero()[0])]
        return unet((x_bar / (1 + sigma**2).sqrt()).float(), t).sample.double()

    x_T = diffusers.utils.torch_utils.randn_tensor((2, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    for cls, name in ((HeavyBallScheduler, "hb3.8"), (GHVBScheduler, "ghvb3.8")):
        pipe.scheduler = cls.from_config(pipe.scheduler.config, beta=0.8)
        images = pipe(batch_size=2, num_inference_steps=6, generator=torch.Generator().manual_seed(1),
                      output_type="np").images
        x_0 = sample(eps_bar, name, 6, x_T=x_T.double()) * pipe.scheduler.alphas_cumprod[0].sqrt()  # x_0 = √ᾱ_0 x̄
        ours = (x_0 / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # DDPMPipeline's output transform
        assert images.shape == (2, 8, 8, 1) and images.std() > 0.05
        np.testing.assert_allclose(images, ours, atol=1e-5)
