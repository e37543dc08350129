"""A vanilla RNN batched over runs: initializations, forward pass, the Omega regularizer, clipping.

Form (the official code's, ``pascanur/trainingRNNs`` RNN.py, row-vector style):

    h_t = act(h_{t-1} W_rec + u_t W_in + b),   h_0 = 0,   y = h_T W_out + b_out  (or y_t at every step)

which is equivalent to the paper's eq. 2, x_t = W_rec sigma(x_{t-1}) + W_in u_t + b (footnote 1).
All parameters of one run live in one row of a flat tensor ``[runs, P]``; :class:`RNNLayout` gives
views of the pieces. A flat gradient row is what Algorithm 1 clips with a single norm.

Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks", ICML.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steplab.transforms import clip_factor, run_norm
from steplab.validation import check_int, check_positive

Tensor = torch.Tensor

ACTIVATIONS = ("tanh", "sigmoid", "linear")
INITIALIZATIONS = ("sigmoid", "basic_tanh", "smart_tanh")
GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "linear": 1.0}  # bound on |act'|
NAN_GUARD_NORM = 1e10
OMEGA_EPS = 1e-20


def check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    return activation


def activate(x: Tensor, activation: str) -> Tensor:
    if activation == "tanh":
        return torch.tanh(x)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    return x


def activation_slope(h: Tensor, activation: str) -> Tensor:
    """act'(pre-activation) written in terms of the output h: 1 - h^2 (tanh), h (1 - h) (sigmoid), 1."""
    if activation == "tanh":
        return 1 - h * h
    if activation == "sigmoid":
        return h * (1 - h)
    return torch.ones_like(h)


@dataclass(frozen=True)
class RNNLayout:
    """Where W_in [n_in, n], W_rec [n, n], b [n], W_out [n, n_out], b_out [n_out] sit in a flat row."""

    input_size: int
    hidden_size: int
    output_size: int

    def __post_init__(self):
        check_int("input_size", self.input_size, 1)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("output_size", self.output_size, 1)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        n_in, n, n_out = self.input_size, self.hidden_size, self.output_size
        return {"w_in": (n_in, n), "w_rec": (n, n), "b": (n,), "w_out": (n, n_out), "b_out": (n_out,)}

    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, shape in self.shapes.items():
            size = 1
            for d in shape:
                size *= d
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def size(self) -> int:
        return list(self.slices().values())[-1].stop

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """Views ``{name: [runs, *shape]}`` into ``flat`` ``[runs, P]`` (gradients flow back to ``flat``)."""
        if flat.ndim != 2 or flat.shape[1] != self.size:
            raise ValueError(f"flat parameters must have shape [runs, {self.size}], got {tuple(flat.shape)}")
        return {name: flat[:, sl].reshape(flat.shape[0], *self.shapes[name])
                for name, sl in zip(self.shapes, self.slices().values())}


def _spectral_radius(w: Tensor) -> Tensor:
    return torch.linalg.eigvals(w.double()).abs().amax(-1).to(w.dtype)


def init_params(layout: RNNLayout, init: str, seeds: list[int], dtype: torch.dtype = torch.float32,
                nonzero_per_unit: int = 15, spectral_radius: float = 0.95) -> Tensor:
    """Initial flat parameters ``[len(seeds), P]``, one seeded run per entry (Pascanu 2013, Sec. 4.1.1).

    * ``sigmoid``:    every W ~ N(0, 0.01^2)
    * ``basic_tanh``: every W ~ N(0, 0.1^2)
    * ``smart_tanh``: W_in, W_out ~ N(0, 0.01^2); W_rec sparse with ``nonzero_per_unit`` non-zeros per row
      (the code's convention: outgoing connections under h W), rescaled to spectral radius 0.95.
    Biases are 0. Draws are float32 (seeded per run) and cast to ``dtype``.
    """
    if init not in INITIALIZATIONS:
        raise ValueError(f"init must be one of {', '.join(INITIALIZATIONS)}; got {init!r}")
    if not seeds:
        raise ValueError("seeds must list at least one seed")
    check_positive("spectral_radius", spectral_radius)
    rows = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        parts = {}
        for name, shape in layout.shapes.items():
            if name.startswith("b"):
                parts[name] = torch.zeros(shape)
                continue
            std = {"sigmoid": 0.01, "basic_tanh": 0.1, "smart_tanh": 0.01}[init]
            parts[name] = std * torch.randn(shape, generator=generator, dtype=torch.float32)
        if init == "smart_tanh":
            n = layout.hidden_size
            keep = min(nonzero_per_unit, n)
            w = torch.randn(n, n, generator=generator, dtype=torch.float32)
            order = torch.rand(n, n, generator=generator, dtype=torch.float32).argsort(dim=1)
            mask = torch.zeros(n, n).scatter_(1, order[:, :keep], 1.0)
            w = w * mask
            radius = float(_spectral_radius(w))
            parts["w_rec"] = w * (spectral_radius / radius) if radius > 0 else w
        rows.append(torch.cat([parts[name].flatten() for name in layout.shapes]))
    return torch.stack(rows).to(dtype)


def forward(flat: Tensor, layout: RNNLayout, inputs: Tensor, activation: str = "tanh",
            every_step: bool = False) -> tuple[Tensor, list[Tensor]]:
    """Run the RNN: ``inputs [runs, batch, T, n_in]`` -> (outputs, hidden states h_1..h_T).

    Outputs are ``[runs, batch, n_out]`` from the last state, or ``[runs, batch, T, n_out]`` with
    ``every_step``. The states are returned as a list of ``[runs, batch, n]`` tensors (for Omega).
    """
    check_activation(activation)
    p = layout.unflatten(flat)
    if inputs.ndim != 4 or inputs.shape[-1] != layout.input_size:
        raise ValueError(f"inputs must have shape [runs, batch, T, {layout.input_size}], got {tuple(inputs.shape)}")
    runs, batch, steps, _ = inputs.shape
    drive = torch.einsum("rbti,rin->rbtn", inputs, p["w_in"]) + p["b"][:, None, None, :]
    h = inputs.new_zeros(runs, batch, layout.hidden_size)
    states = []
    for t in range(steps):
        # h_t = act(h_{t-1} W_rec + u_t W_in + b)
        h = activate(torch.baddbmm(drive[:, :, t], h, p["w_rec"]), activation)
        states.append(h)
    if every_step:
        stacked = torch.stack(states, dim=2)
        out = torch.einsum("rbtn,rno->rbto", stacked, p["w_out"]) + p["b_out"][:, None, None, :]
    else:
        out = torch.baddbmm(p["b_out"][:, None, :], h, p["w_out"])
    return out, states


def omega(states: list[Tensor], errors: list[Tensor], w_rec: Tensor, activation: str = "tanh") -> Tensor:
    """The vanishing-gradient regularizer Omega, one value per run (Pascanu 2013, eq. 10; code form).

        r_k = ||(D_k * act'(h_k)) W_rec^T||^2 / ||D_k||^2,    D_k = dE/dh_k (held constant),
        Omega = sum_k mean_batch (r_k - 1)^2 / sum_k mean_batch [||D_k||^2 >= 1e-20]

    Pass ``states`` and ``errors`` detached and ``w_rec`` live: only the immediate derivative of Omega
    with respect to W_rec is then used, as in the paper.
    """
    check_activation(activation)
    total, count = 0.0, 0.0
    for h, d in zip(states, errors):
        back = torch.bmm(d * activation_slope(h, activation), w_rec.transpose(1, 2))  # (D_k * act'(h_k)) W_rec^T
        d_norm2 = (d * d).sum(-1)  # ||D_k||^2
        valid = d_norm2 >= OMEGA_EPS
        ratio = (back * back).sum(-1) / torch.where(valid, d_norm2, torch.ones_like(d_norm2))  # r_k
        total = total + torch.where(valid, (ratio - 1) ** 2, torch.zeros_like(ratio)).mean(-1)  # mean_batch (r_k-1)^2
        count = count + valid.to(ratio.dtype).mean(-1)  # mean_batch [||D_k||^2 >= 1e-20]
    return total / torch.clamp(torch.as_tensor(count), min=1e-12)  # Omega = sum_k (...) / sum_k (...)


def clip_with_nan_guard(grads: Tensor, params: Tensor, layout: RNNLayout,
                        clip_threshold: Tensor | float | None, checked: bool = False) -> tuple[Tensor, Tensor]:
    """Algorithm 1 on each run's flat gradient, with the official code's NaN guard on clipped runs only.

        g <- min(1, c / ||g||) g                          (Pascanu 2013, Alg. 1; one norm over all parameters)
        if ||g|| is NaN/inf or > 1e10:  g_Wrec <- 0.02 W_rec, every other g <- 0      (code, RNN.py)

    The guard sits inside the code's clipping branch (``clipstyle == 'rescale'``), so an unclipped (MSGD) run
    has none: its gradient is returned as it is, NaN included.
    ``clip_threshold``: ``None`` (no clipping, no guard), a positive number, or a ``[runs]`` tensor where
    ``inf`` marks an unclipped run (``checked=True``: the caller validated it once, so a training step does not
    read it back from the device). Returns (new gradient, norms before clipping ``[runs]``).
    """
    norms = run_norm(grads)
    if clip_threshold is None:
        return grads, norms
    threshold = torch.as_tensor(clip_threshold, dtype=grads.dtype, device=grads.device)
    if not checked and bool((~(threshold > 0)).any()):
        raise ValueError(f"clip_threshold must be > 0 (inf for no clipping), got {threshold.tolist()}")
    unclipped = torch.isinf(threshold)
    factor = torch.where(unclipped, torch.ones_like(norms), clip_factor(norms, threshold))
    clipped = grads * factor[:, None]  # g <- min(1, c / ||g||) g
    bad = (~torch.isfinite(norms) | (norms > NAN_GUARD_NORM)) & ~unclipped  # the guard of clipped runs only
    guard = torch.zeros_like(grads)  # built every step: no host check of ``bad`` (steplab.device's policy)
    rec = layout.slices()["w_rec"]
    guard[:, rec] = 0.02 * params[:, rec]  # g_Wrec <- 0.02 W_rec, every other g <- 0
    return torch.where(bad[:, None], guard, clipped), norms


def scaled_orthogonal(size: int, singular_values: Tensor, seed: int = 0) -> Tensor:
    """``[runs, size, size]`` matrices s_r Q_r with Q_r random orthogonal: every singular value equals s_r."""
    check_int("size", size, 1)
    singular_values = torch.as_tensor(singular_values, dtype=torch.float64).reshape(-1)
    generator = torch.Generator().manual_seed(seed)
    gauss = torch.randn(singular_values.numel(), size, size, generator=generator, dtype=torch.float32).double()
    q, r = torch.linalg.qr(gauss)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    return singular_values[:, None, None] * q


def jacobian_product_norms(w_rec: Tensor, steps: int, activation: str = "tanh", input_scale: float = 1.0,
                           seed: int = 0) -> Tensor:
    """||dx_t/dx_0||_2 for t = 0..steps along one driven trajectory per run (Pascanu 2013, eqs. 5-7).

        x_t = W_rec act(x_{t-1}) + u_t,  u_t ~ N(0, input_scale^2 I),  x_0 ~ N(0, I)
        dx_t/dx_0 = prod_{i=1..t} W_rec diag(act'(x_{i-1}))   and   ||dx_t/dx_0|| <= (lambda_1 gamma)^t.

    ``w_rec`` is ``[runs, n, n]``; returns ``[steps + 1, runs]`` on its device (the draws are made on the CPU, the
    same on every machine, and moved).
    """
    check_activation(activation)
    check_int("steps", steps, 1)
    runs, n, _ = w_rec.shape
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(runs, n, generator=generator, dtype=torch.float32).to(dtype=w_rec.dtype, device=w_rec.device)
    jac = torch.eye(n, dtype=w_rec.dtype, device=w_rec.device).expand(runs, n, n).clone()
    norms = [torch.linalg.matrix_norm(jac, ord=2)]
    for _ in range(steps):
        h = activate(x, activation)
        slope = activation_slope(h, activation)
        jac = torch.bmm(w_rec * slope[:, None, :], jac)  # dx_t/dx_0 = W_rec diag(act'(x_{t-1})) dx_{t-1}/dx_0
        u = input_scale * torch.randn(runs, n, generator=generator, dtype=torch.float32).to(dtype=w_rec.dtype,
                                                                                         device=w_rec.device)
        x = torch.bmm(w_rec, h[:, :, None])[:, :, 0] + u  # x_t = W_rec act(x_{t-1}) + u_t
        norms.append(torch.linalg.matrix_norm(jac, ord=2))
    return torch.stack(norms)
