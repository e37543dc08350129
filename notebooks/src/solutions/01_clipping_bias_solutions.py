# %% [markdown]
# # 01 · Clipping bias: worked solutions
# Solutions to the exercises of `01_clipping_bias.ipynb`. Everything runs through `steplab.clipping`.

# %%
import math

import torch

from steplab import plots
from steplab.clipping import median_tracker, simulate_bias, theory
from steplab.problems import CauchyNoise, ExpNoise, Noisy, Quadratic, TwoPointNoise
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
sim = simulate_bias(1.0, 0.01, noise, seed=0)
for p, f, r, m in zip(ps, formula, theory.two_point_root(1.0, 1.0, torch.tensor(ps)).tolist(), sim.bias.tolist()):
    print(f"p = {p}: formula {f:.4f}  exact root {r:.4f}  simulation {m:.4f}")

# %% [markdown]
# ## Exercise 2 · Which threshold halves the bias?
# For two-point noise with $\sigma = 1$, $p = 0.1$ the bias is $(3-c)_+/9$: $c = 1$ gives $2/9$, and $(3 - c)/9 = 1/9$
# at $c = 2$. For Exp(1) − 1 noise there is no closed form in $c$, so we bisect on `exp_stationary_gradient`
# (it is decreasing in $c$) and confirm both answers with one simulation.

# %%
# NBVAL_CHECK_OUTPUT
target = float(theory.exp_stationary_gradient(1.0)) / 2
low, high = 1.0, 10.0
for _ in range(60):
    mid = (low + high) / 2
    low, high = (mid, high) if float(theory.exp_stationary_gradient(mid)) > target else (low, mid)
c_exp = (low + high) / 2
two_point_run = simulate_bias(torch.tensor([1.0, 2.0]), 0.01, TwoPointNoise(1.0, 0.1), seed=1)
exp_run = simulate_bias(torch.tensor([1.0, c_exp]), 0.01, ExpNoise(1.0), seed=2)
print(f"two-point: bias at c = 1, 2: {two_point_run.bias[0]:.4f}, {two_point_run.bias[1]:.4f} (theory 0.2222, 0.1111)")
print(f"Exp(1)-1: c = {c_exp:.3f} halves the bias; simulated {exp_run.bias[0]:.4f} -> {exp_run.bias[1]:.4f} "
      f"(theory {2 * target:.4f} -> {target:.4f})")

# %% [markdown]
# ## Exercise 3 · Coordinate-wise vs norm clipping
# With independent two-point noise in each of 2 coordinates, **coordinate-wise** clipping decouples into two
# copies of the 1-D problem, so each coordinate settles at $2/9$ and the gradient norm is $\sqrt2 \cdot 2/9 \approx 0.314$.
# **Norm** clipping couples them: an outlier in one coordinate shrinks the whole vector, including the other
# coordinate's inlier, so the 1-D formula no longer applies and the bias differs (it is the root of a 2-D mean field).

# %%
# NBVAL_CHECK_OUTPUT
setup = dict(dim=2, chains=256, steps=5000, burn_in=1000, seed=3)
norm_run = simulate_bias(1.0, 0.05, TwoPointNoise(1.0, 0.1), **setup)
coord_run = simulate_bias(1.0, 0.05, TwoPointNoise(1.0, 0.1), coordinatewise=True, **setup)
print(f"norm clipping:        grad f(x_bar) = {[round(v, 3) for v in norm_run.stationary_gradient[0].tolist()]}, "
      f"norm {float(norm_run.bias[0]):.3f}")
print(f"coordinate-wise:      grad f(x_bar) = {[round(v, 3) for v in coord_run.stationary_gradient[0].tolist()]}, "
      f"norm {float(coord_run.bias[0]):.3f} (1-D formula: {math.sqrt(2) * 2 / 9:.3f})")

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
# median tracker settles. 64 runs, 5,000 steps, through the generic trajectory driver.

# %%
# NBVAL_CHECK_OUTPUT
problem = Noisy(Quadratic([1.0]), CauchyNoise(1.0))
x0 = torch.zeros(64, 1)
tracked = run(problem, chain(median_tracker(1.0), scale(0.01)), x0, 5000, seed=4, max_loss=math.inf)
momentum = run(problem, chain(heavy_ball(0.9), scale(0.001)), x0, 5000, seed=4, max_loss=math.inf)
for name, traj in (("median tracker", tracked), ("heavy ball", momentum)):
    tail = traj.iterates[2500:, :, 0]
    print(f"{name:14s}: mean over runs of |tail average| = {float(tail.mean(0).abs().mean()):.3f}, "
          f"max |x_t| = {float(traj.iterates.abs().max()):.3g}")
