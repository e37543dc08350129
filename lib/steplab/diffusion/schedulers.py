"""Heavy-ball diffusion samplers as diffusers schedulers: HB (on PLMS or DPM-Solver++) and GHVB.

Drop-in for any diffusers pipeline (``pip install 'steplab[diffusers]'``)::

    from steplab.diffusion.schedulers import GHVBScheduler, HeavyBallScheduler
    pipe.scheduler = HeavyBallScheduler.from_config(pipe.scheduler.config, beta=0.8)   # hb3.8
    pipe.scheduler = GHVBScheduler.from_config(pipe.scheduler.config, beta=0.8)        # ghvb3.8

The update rules are steplab's (:mod:`steplab.diffusion.samplers`, Wizadwongsa et al. 2024): the same
coefficient tables (:func:`~steplab.diffusion.methods.ghvb_coefficients`), the same damped average
(:func:`~steplab.diffusion.samplers.damped_average`), the same warm-up (order min(k, stored evaluations)) and
the same timesteps (:func:`~steplab.diffusion.schedule.linear_timesteps`: t_i = round(linspace(T − 1, 0, N + 1)),
the model evaluated at t_0..t_{N−1}, the last step landing on t_N = 0). A full scheduler loop equals
``steplab.diffusion.sample`` on the same ε (tests/test_schedulers.py).

**Coordinates.** diffusers passes x_t = √ᾱ_t x̄ and ε_θ(x_t, t); the ε-form ODE (Wizadwongsa et al. 2024, Eq. 2)
runs in x̄ = x_t/√ᾱ_t with σ_t = √((1 − ᾱ_t)/ᾱ_t) and ε̄(x̄, σ_t) = ε_θ(x_t, t). Each ``step`` maps x_t to x̄,
applies one step of the method from σ_n to σ_{n+1} and maps back with √ᾱ_{t_{n+1}}.

**Conventions.** ``beta`` is the paper's damping β ∈ (0, 1] (β = 1: no momentum, HB = PLMS-k, GHVB = PLMS-k);
``solver_order`` is the multistep order k (momentum number m = (k − 1) + β: ``solver_order=4, beta=0.8`` is
hb3.8 / ghvb3.8). ``order`` is diffusers' model evaluations per step (1), not k. ``set_timesteps(device=None)``
puts the timesteps on :func:`steplab.device.default_device` (the project's device rule). The ODE is
deterministic: ``generator`` is accepted (pipelines pass one) and unused. Keys of other schedulers' configs that
these do not use (``timestep_spacing``, ``clip_sample``, …) are ignored by ``from_config``.
"""

from __future__ import annotations

import math

import torch

from steplab.device import default_device
from steplab.diffusion.methods import Method, ab_coefficients, ghvb_coefficients
from steplab.diffusion.samplers import LOWER_ORDER_FINAL_BELOW, damped_average
from steplab.diffusion.schedule import alphas_cumprod, linear_timesteps
from steplab.optional import require
from steplab.validation import check_int, check_positive

_config_utils = require("diffusers.configuration_utils", "steplab.diffusion.schedulers")
_scheduling_utils = require("diffusers.schedulers.scheduling_utils", "steplab.diffusion.schedulers")
ConfigMixin, register_to_config = _config_utils.ConfigMixin, _config_utils.register_to_config
SchedulerMixin, SchedulerOutput = _scheduling_utils.SchedulerMixin, _scheduling_utils.SchedulerOutput

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
BASE_SOLVERS = ("plms", "dpmsolver++")


def schedule_alphas_cumprod(num_train_timesteps: int, beta_start: float, beta_end: float, beta_schedule: str,
                            trained_betas=None) -> torch.Tensor:
    """ᾱ_t (float64, [T]) for diffusers' ``beta_schedule`` names; ``linear`` is steplab's own schedule."""
    check_int("num_train_timesteps", num_train_timesteps, 2)
    if trained_betas is not None:
        betas = torch.as_tensor(trained_betas, dtype=torch.float64)
        if betas.ndim != 1 or len(betas) != num_train_timesteps:
            raise ValueError(f"trained_betas must be a list of num_train_timesteps = {num_train_timesteps} numbers")
        return torch.cumprod(1.0 - betas, dim=0)  # ᾱ_t = Π_{s≤t} (1 − β_s)
    if beta_schedule == "linear":
        return alphas_cumprod(num_train_timesteps, beta_start, beta_end)
    if beta_schedule == "scaled_linear":  # β_t = linspace(√β_start, √β_end, T)² (Stable Diffusion)
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float64) ** 2
        return torch.cumprod(1.0 - betas, dim=0)
    if beta_schedule == "squaredcos_cap_v2":  # Nichol & Dhariwal 2021, Eq. 17, β_t capped at 0.999
        steps = torch.arange(num_train_timesteps + 1, dtype=torch.float64) / num_train_timesteps
        f = torch.cos((steps + 0.008) / 1.008 * math.pi / 2) ** 2  # f(t) = cos²((t/T + s)/(1 + s)·π/2), s = 0.008
        betas = torch.clamp(1.0 - f[1:] / f[:-1], max=0.999)  # β_t = min(1 − ᾱ_t/ᾱ_{t−1}, 0.999)
        return torch.cumprod(1.0 - betas, dim=0)
    raise ValueError(f"beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, got {beta_schedule!r}")


def _combine(coefficients: tuple[tuple[float, ...], float], buffer: list[torch.Tensor]) -> torch.Tensor:
    """Σ_j c_j buffer[−1−j] / denominator, newest entry last (out of place: the buffer is kept)."""
    numerators, denominator = coefficients
    return sum(c * buffer[-1 - j] for j, c in enumerate(numerators)) / denominator


class _MomentumScheduler(SchedulerMixin, ConfigMixin):
    """The diffusers contract shared by both schedulers; subclasses supply ``_method`` and ``_advance``."""

    _compatibles = [e.name for e in _scheduling_utils.KarrasDiffusionSchedulers]
    order = 1  # model evaluations per step (diffusers' meaning); the multistep order is config.solver_order

    def _setup(self) -> None:
        c = self.config
        if c.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {c.prediction_type!r}")
        check_positive("beta_start", c.beta_start)
        check_positive("beta_end", c.beta_end)
        self.method = self._method()  # checks beta in (0, 1] and solver_order in [1, 4]
        self.alphas_cumprod = schedule_alphas_cumprod(c.num_train_timesteps, c.beta_start, c.beta_end,
                                                      c.beta_schedule, c.trained_betas)
        self.init_noise_sigma = 1.0  # x_T ~ N(0, I) in diffusers' coordinates (VP)
        self.num_inference_steps = None
        self.timesteps = torch.arange(c.num_train_timesteps - 1, 0, -1)  # placeholder until set_timesteps
        self._reset()

    def _reset(self) -> None:
        self._next_index = None  # index in ``timesteps`` the next step must have (None: a loop may start)
        self._buffer: list[torch.Tensor] = []
        self._velocity = None
        self._previous = None  # DPM-Solver++: (D_{n−1}, h_{n−1})

    @property
    def step_index(self) -> int | None:
        """The index of the next timestep to step from (None before the first step)."""
        return self._next_index

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """t_i = round(linspace(T − 1, 0, N + 1)), i < N, on ``device`` (None: steplab's default device)."""
        check_int("num_inference_steps", num_inference_steps, 1)
        train = self.config.num_train_timesteps
        if num_inference_steps > train - 1:
            raise ValueError(f"num_inference_steps must be at most num_train_timesteps - 1 = {train - 1}, "
                             f"got {num_inference_steps}")
        grid = linear_timesteps(num_inference_steps, train)  # [N+1], t_N = 0
        ab = self.alphas_cumprod[grid]
        self._grid_alpha_bar = ab.tolist()
        self._grid_sigma = torch.sqrt((1.0 - ab) / ab).tolist()  # σ = √((1 − ᾱ)/ᾱ) (Eq. 2)
        self.num_inference_steps = num_inference_steps
        self.timesteps = grid[:-1].to(default_device() if device is None else device)
        self._reset()

    def scale_model_input(self, sample: torch.Tensor, timestep=None) -> torch.Tensor:
        """The model takes x_t unscaled (VP coordinates): returns ``sample``."""
        return sample

    def _index(self, timestep) -> int:
        value = int(timestep.item() if isinstance(timestep, torch.Tensor) else timestep)
        found = (self.timesteps == value).nonzero()
        if len(found) == 0:
            raise ValueError(f"timestep {value} is not in scheduler.timesteps ({self.num_inference_steps} steps)")
        index = int(found[0])
        if index == 0:
            self._reset()  # the first timestep starts a new loop
        elif self._next_index is not None and index != self._next_index:
            raise ValueError(f"step at timestep {value} (index {index}) but the loop is at index {self._next_index}: "
                             "a multistep method must step through scheduler.timesteps in order")
        return index

    def _epsilon(self, model_output: torch.Tensor, x_t: torch.Tensor, alpha_bar: float) -> torch.Tensor:
        """ε from the model's output: ε = √ᾱ v + √(1 − ᾱ) x_t (v-prediction), (x_t − √ᾱ x̂_0)/√(1 − ᾱ) (sample)."""
        kind = self.config.prediction_type
        if kind == "v_prediction":
            return alpha_bar**0.5 * model_output + (1.0 - alpha_bar) ** 0.5 * x_t
        if kind == "sample":
            return (x_t - alpha_bar**0.5 * model_output) / (1.0 - alpha_bar) ** 0.5
        return model_output

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor, generator=None,
             return_dict: bool = True):
        """One step from t_n to t_{n+1}: ``SchedulerOutput(prev_sample=x_{t_{n+1}})`` (or a 1-tuple)."""
        if self.num_inference_steps is None:
            raise ValueError("call set_timesteps(num_inference_steps) before step()")
        n = self._index(timestep)
        work = sample.dtype if sample.dtype in (torch.float32, torch.float64) else torch.float32
        x_t = sample.to(work)
        ab, ab_next = self._grid_alpha_bar[n], self._grid_alpha_bar[n + 1]
        eps = self._epsilon(model_output.to(work), x_t, ab)  # e_n = ε̄(x̄_n, σ_n), the step's one NFE
        x_bar = x_t / ab**0.5  # x̄_n = x_t/√ᾱ_t
        x_bar_next = self._advance(n, eps, x_bar, self._grid_sigma[n], self._grid_sigma[n + 1])
        prev_sample = (x_bar_next * ab_next**0.5).to(sample.dtype)  # x_{t_{n+1}} = √ᾱ_{t_{n+1}} x̄_{n+1}
        self._next_index = n + 1
        return SchedulerOutput(prev_sample=prev_sample) if return_dict else (prev_sample,)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. 2020, Eq. 4), for img2img-style pipelines."""
        ab = self.alphas_cumprod.to(device=original_samples.device, dtype=original_samples.dtype)[timesteps.long()]
        ab = ab.reshape(-1, *([1] * (original_samples.ndim - 1)))
        return ab.sqrt() * original_samples + (1.0 - ab).sqrt() * noise

    def __len__(self) -> int:
        return self.config.num_train_timesteps


class HeavyBallScheduler(_MomentumScheduler):
    """PLMS-k with Polyak's heavy ball (Wizadwongsa et al. 2024, Eq. 14), or DPM-Solver++(2M) with HB.

    ``base_solver="plms"``: p_n = Σ_j b_j e_{n−j} (Adams–Bashforth-j, j = min(k, stored); Eq. 9),
    v_{n+1} = (1 − β) v_n + β p_n (v_1 = p_0), x̄_{n+1} = x̄_n + δ_n v_{n+1}, δ_n = σ_{n+1} − σ_n.
    ``base_solver="dpmsolver++"`` (``solver_order=2``): the damped average on DPM-Solver++(2M)'s bracket
    (Lu et al. 2022, Alg. 2), first-order steps without momentum; ``lower_order_final`` makes the last step first
    order when N < 15, as diffusers' DPMSolverMultistepScheduler does.
    """

    @register_to_config
    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 beta_schedule: str = "linear", trained_betas=None, prediction_type: str = "epsilon",
                 beta: float = 0.8, solver_order: int = 4, base_solver: str = "plms", lower_order_final: bool = True):
        self._setup()

    def _method(self) -> Method:
        c = self.config
        if c.base_solver not in BASE_SOLVERS:
            raise ValueError(f"base_solver must be one of {', '.join(BASE_SOLVERS)}, got {c.base_solver!r}")
        if c.base_solver == "dpmsolver++":
            if c.solver_order != 2:
                raise ValueError(f"base_solver='dpmsolver++' is DPM-Solver++(2M): solver_order must be 2, "
                                 f"got {c.solver_order!r}")
            return Method("dpm++hb", 2, c.beta)
        return Method("hb", c.solver_order, c.beta)

    def _advance(self, n: int, eps: torch.Tensor, x_bar: torch.Tensor, sigma: float, sigma_next: float):
        beta, k = self.method.beta, self.method.order
        if self.method.family == "dpm++hb":
            return self._dpm_solver_hb(n, eps, x_bar, sigma, sigma_next)
        self._buffer = (self._buffer + [eps])[-k:]
        p = _combine(ab_coefficients(len(self._buffer)), self._buffer)  # p_n = Σ_j b_j e_{n−j} (Eq. 9)
        self._velocity = damped_average(self._velocity, p, beta)  # v_{n+1} = (1 − β) v_n + β p_n (Eq. 14)
        return x_bar + (sigma_next - sigma) * self._velocity  # x̄_{n+1} = x̄_n + δ_n v_{n+1}

    def _dpm_solver_hb(self, n: int, eps, x_bar, sigma: float, sigma_next: float):
        d = x_bar - sigma * eps  # D_n = x̄_n − σ_n ε̄_n, the predicted clean sample
        h = math.log(sigma) - math.log(sigma_next)  # h = λ_{n+1} − λ_n, λ = −log σ
        final_low = self.config.lower_order_final and self.num_inference_steps < LOWER_ORDER_FINAL_BELOW
        if self._previous is None or (final_low and n == self.num_inference_steps - 1):
            bracket = d  # first order: D_n, no momentum
        else:
            previous_d, previous_h = self._previous
            bracket = d + (d - previous_d) / (2.0 * (previous_h / h))  # D_n + (D_n − D_{n−1})/(2r), r = h_{n−1}/h
            self._velocity = damped_average(self._velocity, bracket, self.method.beta)  # v ← (1 − β) v + β·bracket
            bracket = self._velocity
        self._previous = (d, h)
        ratio = sigma_next / sigma  # e^{−h}
        return ratio * x_bar + (1.0 - ratio) * bracket  # x̄_{n+1} = e^{−h} x̄_n + (1 − e^{−h})·bracket


class GHVBScheduler(_MomentumScheduler):
    """Generalized heavy ball GHVB-k (Wizadwongsa et al. 2024, Eqs. 15–19 and 63, Alg. 2).

    v_{n+1} = (1 − β) v_n + β e_n (v_1 = e_0), x̄_{n+1} = x̄_n + (δ_n/β) M_j(β; v_{n+1}, v_n, …),
    j = min(k, stored velocities); at β = 1 it is PLMS-k.
    """

    @register_to_config
    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 beta_schedule: str = "linear", trained_betas=None, prediction_type: str = "epsilon",
                 beta: float = 0.8, solver_order: int = 4):
        self._setup()

    def _method(self) -> Method:
        return Method("ghvb", self.config.solver_order, self.config.beta)

    def _advance(self, n: int, eps: torch.Tensor, x_bar: torch.Tensor, sigma: float, sigma_next: float):
        beta, k = self.method.beta, self.method.order
        self._velocity = damped_average(self._velocity, eps, beta)  # v_{n+1} = (1 − β) v_n + β e_n (Eqs. 15–19)
        self._buffer = (self._buffer + [self._velocity])[-k:]
        step = _combine(ghvb_coefficients(len(self._buffer), beta), self._buffer)  # M_j(β; v_{n+1}, v_n, …)
        return x_bar + (sigma_next - sigma) / beta * step  # x̄_{n+1} = x̄_n + (δ_n/β) M_j (Eqs. 15–19)
