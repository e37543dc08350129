"""A trained class-conditional noise-prediction network on scikit-learn's bundled 8×8 digits, and its loader.

The project's real diffusion model (trained by ``python -m steplab.diffusion.train_digits``; the weights are
stored in ``steplab/diffusion/weights/``). API, for the notebook, the dashboard and the diffusers scheduler::

    from steplab.diffusion import sample, noise
    from steplab.diffusion.digits_model import load_digits_model, to_pixels
    model = load_digits_model()                  # DigitsModel: stored weights, eval mode, on default_device()
    labels = torch.arange(16) % 10               # requested digits
    x = sample(model, "hb3.8", steps=10, guidance=4.0, x_T=noise(16, 64), class_labels=labels)  # [16, 64]
    pixels = to_pixels(x)                        # [16, 8, 8] in [0, 16] (clipped), as load_digits stores them
    eps = model.net(x_t, timesteps, labels)      # the raw network: DDPM ε(x_t, t, c), x_t [B, 64] or [B, 1, 8, 8]

* Data: x0 = pixel/8 − 1 ∈ [−1, 1] (background −1), flattened to 64 values (:func:`digits_data`).
* Noise: the samplers' linear-β schedule (:func:`steplab.diffusion.schedule.alphas_cumprod`, T = 1000),
  x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (Ho et al. 2020, Eq. 4); the network predicts ε from (x_t, t, c), t ∈ [0, 999]
  (fractional t allowed: the sinusoidal embedding is continuous).
* Classes 0..9, and ``NULL_CLASS = 10`` for the unconditional model (trained by label dropout).
* Classifier-free guidance as in :mod:`steplab.diffusion.gmm`: ε̂ = ε_u + w(ε_c − ε_u) (Ho & Salimans 2022;
  Wizadwongsa et al. 2024, Eq. 5); w = 0 unconditional, w = 1 conditional.
* The ε-form ODE of the samplers works on x̄ = x_t/√ᾱ_t with σ = √((1 − ᾱ)/ᾱ):
  :meth:`DigitsModel.epsilon` maps (x̄, σ) to (x_t = x̄/√(1 + σ²), t(σ)) and calls the network.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from steplab.device import default_device
from steplab.diffusion.schedule import alphas_cumprod, sigma_from_alpha_bar
from steplab.validation import check_nonnegative

CLASSES = 10
NULL_CLASS = 10
SIDE = 8
PIXELS = SIDE * SIDE
PIXEL_MAX = 16.0
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "digits_denoiser.safetensors"
INFO_FILE = WEIGHTS_DIR / "digits_denoiser.json"


@dataclass(frozen=True)
class NetConfig:
    """The network's shape: residual MLP of ``width`` units and ``blocks`` blocks, ``embed`` sinusoidal features."""

    width: int = 256
    blocks: int = 3
    embed: int = 64


@lru_cache(maxsize=1)
def digits_data() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled digits (1797 images, no download): x0 = pixel/8 − 1 [1797, 64] float32, labels [1797]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x0 = torch.as_tensor(digits.data, dtype=torch.float32) / (PIXEL_MAX / 2) - 1.0  # pixel/8 − 1 ∈ [−1, 1]
    return x0, torch.as_tensor(digits.target, dtype=torch.long)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Samples x [B, 64] (model scale) as images [B, 8, 8] in pixel units, clipped to [0, 16]."""
    return ((x.detach().to(torch.float32).cpu() + 1.0) * (PIXEL_MAX / 2)).clamp(0.0, PIXEL_MAX).reshape(-1, SIDE, SIDE)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features [cos(t ω_j), sin(t ω_j)], ω_j = 10000^(−j/(dim/2)) (Vaswani et al. 2017; Ho et al. 2020)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class _Block(nn.Module):
    """h ← h + W₂ SiLU(W₁ SiLU(LN(h)) + W_c e): a pre-norm residual block conditioned on e = emb(t) + emb(c)."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, width)
        self.cond = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        inner = self.inner(nn.functional.silu(self.norm(h))) + self.cond(e)
        return h + self.outer(nn.functional.silu(inner))


class DigitsNet(nn.Module):
    """ε(x_t, t, c): a residual MLP on the 64 pixels with sinusoidal-time and class embeddings (class 10 = none)."""

    def __init__(self, config: NetConfig = NetConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.time = nn.Sequential(nn.Linear(config.embed, w), nn.SiLU(), nn.Linear(w, w))
        self.label = nn.Embedding(CLASSES + 1, w)
        self.inp = nn.Linear(PIXELS, w)
        self.blocks = nn.ModuleList(_Block(w) for _ in range(config.blocks))
        self.out_norm = nn.LayerNorm(w)
        self.out = nn.Linear(w, PIXELS)

    def forward(self, sample: torch.Tensor, timestep, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """ε for ``sample`` [B, 64] or [B, 1, 8, 8] (same shape back), ``timestep`` scalar or [B] in [0, 999]."""
        shape = sample.shape
        x = sample.reshape(shape[0], PIXELS).to(torch.float32)
        t = torch.as_tensor(timestep, device=x.device, dtype=torch.float32).reshape(-1).expand(shape[0])
        labels = (torch.full((shape[0],), NULL_CLASS, device=x.device, dtype=torch.long) if class_labels is None
                  else class_labels.to(device=x.device, dtype=torch.long).reshape(-1).expand(shape[0]))
        e = self.time(timestep_embedding(t, self.config.embed)) + self.label(labels)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, e)
        return self.out(nn.functional.silu(self.out_norm(h))).reshape(shape)


class DigitsModel:
    """The trained network as the samplers see it: guided ε̄(x̄, σ) (``eps_fn``), like a GaussianMixture."""

    classes = CLASSES
    dim = PIXELS

    def __init__(self, net: DigitsNet, info: dict | None = None):
        self.net = net.eval()
        self.info = info or {}
        self.device = next(net.parameters()).device
        self._log_sigmas = torch.log(sigma_from_alpha_bar(alphas_cumprod()))  # increasing in t, float64

    def timestep(self, sigma) -> torch.Tensor:
        """The (fractional) training timestep t with σ_t = σ: linear interpolation of log σ_t over t = 0..999."""
        log_sigma = torch.log(torch.as_tensor(sigma, dtype=torch.float64).cpu()).reshape(-1)
        table = self._log_sigmas
        log_sigma = log_sigma.clamp(float(table[0]), float(table[-1]))
        upper = torch.searchsorted(table, log_sigma).clamp(1, len(table) - 1)
        low, high = table[upper - 1], table[upper]
        fraction = (log_sigma - low) / (high - low)
        return (upper - 1).to(torch.float64) + fraction  # t = t_low + (log σ − log σ_low)/(log σ_high − log σ_low)

    @torch.no_grad()
    def epsilon(self, x_bar: torch.Tensor, sigma, labels: torch.Tensor | None = None,
                guidance: float = 0.0) -> torch.Tensor:
        """Guided ε̂(x̄, σ) = ε_u + w(ε_c − ε_u) at x_t = x̄/√(1 + σ²), t = t(σ); same dtype/device as ``x_bar``."""
        sig = torch.as_tensor(sigma, dtype=torch.float64)
        x_t = (x_bar / torch.sqrt(1.0 + sig.to(x_bar.device) ** 2).to(x_bar.dtype)).to(self.device, torch.float32)
        t = self.timestep(sig).to(self.device, torch.float32)
        batch = x_t.shape[0]
        if labels is None or guidance == 0.0:
            eps = self.net(x_t, t, None)
        elif guidance == 1.0:
            eps = self.net(x_t, t, labels)
        else:  # one batched call: conditional and unconditional halves
            both = self.net(torch.cat([x_t, x_t]), t if t.numel() == 1 else t.repeat(2),
                            torch.cat([labels.to(self.device), torch.full_like(labels.to(self.device), NULL_CLASS)]))
            eps_c, eps_u = both[:batch], both[batch:]
            eps = eps_u + guidance * (eps_c - eps_u)  # ε̂ = ε_u + w (ε_c − ε_u)
        return eps.to(device=x_bar.device, dtype=x_bar.dtype)

    def eps_fn(self, labels: torch.Tensor | None = None, guidance: float = 0.0):
        """The guided ε̄(x̄, σ) as a two-argument function, the form every sampler takes."""
        check_nonnegative("guidance", guidance)
        if labels is not None and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= CLASSES):
            raise ValueError(f"labels must be digits in [0, {CLASSES - 1}], got {labels.min()}..{labels.max()}")
        return lambda x_bar, sigma: self.epsilon(x_bar, sigma, labels, guidance)


def save_weights(net: DigitsNet, path: Path | str = WEIGHTS_FILE) -> None:
    """Write the network's tensors (float32, contiguous) and its :class:`NetConfig` as a safetensors file."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(path), metadata={"config": json.dumps(asdict(net.config))})


def load_net(path: Path | str = WEIGHTS_FILE, device=None) -> DigitsNet:
    """A :class:`DigitsNet` with the weights of a safetensors file written by :func:`save_weights`."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no digits weights at {path}; train them: python -m steplab.diffusion.train_digits")
    with safe_open(str(path), framework="pt") as handle:
        config = NetConfig(**json.loads(handle.metadata()["config"]))
    net = DigitsNet(config)
    net.load_state_dict(load_file(str(path)))
    return net.to(device or default_device())


def load_digits_model(device=None, path: Path | str = WEIGHTS_FILE) -> DigitsModel:
    """The stored trained denoiser as a :class:`DigitsModel` on ``device`` (default: ``default_device()``)."""
    path = Path(path)
    info_path = path.with_suffix(".json")
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    return DigitsModel(load_net(path, device), info)
