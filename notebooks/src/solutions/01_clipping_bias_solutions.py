# %% [markdown]
# # 01 · Clipping bias: worked solutions
# Solutions to the exercises of `01_clipping_bias.ipynb`. Everything runs through `steplab.clipping`.

# %% [markdown]
# **How to use this notebook.**
# * Kernel **Python (steplab)** (`make lab` registers it and opens JupyterLab on `notebooks/`); *Run → Run All Cells*
#   takes about 5 s on a laptop CPU, no GPU needed.
# * These are the worked solutions to the exercises of `notebooks/01_clipping_bias.ipynb`; read that notebook first.
# * If `import steplab` fails, run `python -m steplab.check_env` in a terminal (`.venv/bin/python -m
#   steplab.check_env` in the repository): it lists what is missing. On Google Colab the next cell installs steplab
#   (README, *Course use*).

# %% [install]

# %%
import math

import torch

from steplab import plots
from steplab.clipping import median_tracker, simulate_bias, theory
from steplab.device import to_host
from steplab.problems import CauchyNoise, Noisy, Quadratic, TwoPointNoise
from steplab.trajectory import run
from steplab.transforms import chain, heavy_ball, scale

plots.use_style()
torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## Exercise 1 · The fixed point for any p < 1/2
# Write $y = L\bar x$. Near the root the outlier $y + A$ is clipped to $c$ and the inlier $y - B$ is not
# (this needs $|y - B| \le c$ and $y + A > c$). The mean field vanishes when
#
# $$p\,c + (1-p)(y - B) = 0 \iff y = B - q\,c = \sigma\sqrt q - q\,c = q\,(A - c),$$
#
# valid for $c < A$; for $c \ge A$ nothing is clipped near $x^*$ and $y = 0$. With $\sigma = 1$, $c = 1$:
# $p = 0.05$ gives $q = 1/19$ and $y = \sqrt{1/19} - 1/19 \approx 0.1768$; $p = 0.3$ gives $q = 3/7$ and
# $y \approx 0.2261$. Both laws run in one simulation (a list of noise models, one per configuration).

# %%
# NBVAL_CHECK_OUTPUT
ps = (0.05, 0.3)
formula = [math.sqrt(p / (1 - p)) - p / (1 - p) for p in ps]
noise = [TwoPointNoise(1.0, p) for p in ps]
sim = to_host(simulate_bias(1.0, 0.01, noise, seed=0))
for p, f, r, m in zip(ps, formula, theory.two_point_root(1.0, 1.0, torch.tensor(ps)).tolist(), sim.bias.tolist()):
    print(f"p = {p}: formula {f:.4f}  exact root {r:.4f}  simulation {m:.4f}")

# %% [markdown]
# ## Exercise 2 · Which threshold halves the bias?
# The stationary gradient of a two-point law with $p < 1/2$ is $q(A - c)_+$ (Exercise 1).
#
# * **(a) The fixed law** $\sigma = 1$, $p = 0.1$ ($q = 1/9$, $A = 3$): the bias is $(3 - c)_+/9$, $2/9$ at $c = 1$, and
#   $(3 - c)/9 = 1/9$ at $c = 2$.
# * **(b) The worst-case family** changes the law with $c$ ($A = 2c$, $q = 1/(4c^2)$): its bias $1/(4c)$ halves from
#   $1/4$ at $c = 2$.
# * **(c) The law that is worst for $c = 1$** ($A = 2$, $q = 1/4$, $p = 1/5$), held fixed while $c$ moves: the bias
#   is $(2 - c)_+/4$, so it halves from $1/4$ to $1/8$ at $c = 1.5$. (b) and (c) differ because in (b) the
#   outlier moves out with $c$ and keeps being clipped.
#
# One simulation runs all six (law, $c$) pairs, a list of noise models with one per configuration.

# %%
# NBVAL_CHECK_OUTPUT
cases = {"(a) fixed p = 0.1": [(TwoPointNoise(1.0, 0.1), 1.0), (TwoPointNoise(1.0, 0.1), 2.0)],
         "(b) worst family": [(TwoPointNoise(1.0, float(theory.worst_case_p(c))), c) for c in (1.0, 2.0)],
         "(c) fixed A = 2": [(TwoPointNoise(1.0, 0.2), 1.0), (TwoPointNoise(1.0, 0.2), 1.5)]}
pairs = [pair for rows in cases.values() for pair in rows]
thresholds = torch.tensor([c for _, c in pairs])
halving = to_host(simulate_bias(thresholds, 0.01, [noise for noise, _ in pairs], seed=1))
predicted = theory.bias_theory(thresholds, [noise for noise, _ in pairs])
for k, name in enumerate(cases):
    before, after = halving.bias[2 * k : 2 * k + 2].tolist()
    exact = predicted[2 * k : 2 * k + 2].tolist()
    print(f"{name}: c = {pairs[2 * k][1]:g} -> {pairs[2 * k + 1][1]:g}: theory {exact[0]:.4f} -> {exact[1]:.4f}; "
          f"simulated ratio within 5% of 1/2: {abs(after / before - 0.5) < 0.025}")

# %% [markdown]
# ## Exercise 3 · Coordinate-wise vs norm clipping
# With independent two-point noise in each of 2 coordinates, **coordinate-wise** clipping decouples into two
# copies of the 1-D problem, so each coordinate settles at $2/9$ and the gradient norm is $\sqrt2 \cdot 2/9 \approx 0.314$.
# **Norm** clipping couples them: an outlier in one coordinate shrinks the whole vector, including the other
# coordinate's inlier, so the 1-D formula no longer applies. Its root is exact too: by symmetry it lies on the
# diagonal $y_1 = y_2 = y$, where the first coordinate of the mean field, a sum over the 4 outcomes
# $(\xi_1, \xi_2) \in \{3, -1/3\}^2$, vanishes; we find it by bisection and compare both with the simulation.

# %%
# NBVAL_CHECK_OUTPUT
values = torch.tensor([3.0, -1 / 3])
weights = torch.tensor([0.1, 0.9])
pair_weights = weights[:, None] * weights[None, :]


def first_coordinate_field(y: float, c: float = 1.0) -> float:
    """sum over (xi_1, xi_2) of w * clip_c((y + xi_1, y + xi_2))_1 (norm clipping)."""
    g1, g2 = y + values[:, None], y + values[None, :]
    factor = torch.clamp(c / torch.sqrt(g1**2 + g2**2), max=1.0)  # min(1, c/||g||)
    return float((pair_weights * g1 * factor).sum())


low, high = 0.0, 1.0  # the field is negative at y = 0 and positive at y = 1
for _ in range(60):
    mid = (low + high) / 2
    low, high = (mid, high) if first_coordinate_field(mid) < 0 else (low, mid)
norm_root = math.sqrt(2) * (low + high) / 2
setup = dict(dim=2, chains=256, steps=5000, burn_in=1000, seed=3)
norm_run = to_host(simulate_bias(1.0, 0.05, TwoPointNoise(1.0, 0.1), **setup))
coord_run = to_host(simulate_bias(1.0, 0.05, TwoPointNoise(1.0, 0.1), coordinatewise=True, **setup))
print(f"norm clipping:   exact root norm {norm_root:.4f}; simulation within 1%: "
      f"{abs(float(norm_run.bias[0]) / norm_root - 1) < 0.01}")
print(f"coordinate-wise: 1-D formula sqrt(2) * 2/9 = {math.sqrt(2) * 2 / 9:.4f}; simulation within 1%: "
      f"{abs(float(coord_run.bias[0]) / (math.sqrt(2) * 2 / 9) - 1) < 0.01}")

# %% [markdown]
# The exact norms differ by about 2%, twice the 1% tolerance, so each simulation matches its own root and not the
# other's (the simulated values, in the next cell, vary in the last digits with the noise draws).

# %%
print(f"simulated norms: norm clipping {float(norm_run.bias[0]):.4f}, coordinate-wise {float(coord_run.bias[0]):.4f}")

# %% [markdown]
# ## Exercise 4 · When does batch clipping beat per-sample clipping?
# Per-sample clipping's bias is the $b = 1$ bias for every $b$. Batch clipping clips the mean of $b$ draws, whose
# noise has standard deviation $\sigma/\sqrt b$; its bias is the root of the binomial mean field and falls like
# $O(\sigma^2/(bc))$ once $c \gtrsim \sigma/\sqrt b$. Exact roots for $b = 1..16$:

# %%
# NBVAL_CHECK_OUTPUT
b = torch.arange(1, 17)
for c in (1.0, 2.0):
    batch = theory.two_point_root(c, 1.0, 0.1, b, per_sample=False)
    per_sample = float(theory.two_point_root(c, 1.0, 0.1))
    first = int(b[batch < 0.01][0])
    print(f"c = {c}: per-sample bias {per_sample:.4f} for every b; batch clipping < 0.01 from b = {first} "
          f"(b = 4: {float(batch[3]):.4f})")

# %% [markdown]
# Batch clipping always has the smaller bias here, and the gap closes as $c$ grows toward $A = 3$, where neither
# method clips near $x^*$. The catch is what clipping is *for*: differential privacy needs per-sample clipping
# (each sample's influence is bounded), and robustness to a single corrupted sample is lost when the
# outlier is averaged into the batch before clipping.
#
# ## Exercise 5 · Median momentum under Cauchy noise
# `median_tracker(tau)` keeps $m \leftarrow m + \mathrm{clip}_\tau(g - m)$ across steps. Under Cauchy noise the
# gradient has a median ($Lx$) but no mean, so heavy ball (an exponential moving *mean*) keeps jumping while the
# median tracker settles. 64 runs, 5,000 steps, through the generic trajectory driver. We compare the **median**
# over runs of $|$tail average$|$: under Cauchy noise a mean over runs of such values need not settle at all.

# %%
# NBVAL_CHECK_OUTPUT
problem = Noisy(Quadratic([1.0]), CauchyNoise(1.0))
x0 = torch.zeros(64, 1)
tracked = run(problem, chain(median_tracker(1.0), scale(0.01)), x0, 5000, seed=4, max_loss=math.inf)
momentum = run(problem, chain(heavy_ball(0.9), scale(0.001)), x0, 5000, seed=4, max_loss=math.inf)
for name, traj in (("median tracker", tracked), ("heavy ball", momentum)):
    tail = traj.iterates[2500:, :, 0]
    print(f"{name:14s}: median over runs of |tail average| = {float(tail.mean(0).abs().median()):.3f}, "
          f"max |x_t| = {float(traj.iterates.abs().max()):.3g}")
