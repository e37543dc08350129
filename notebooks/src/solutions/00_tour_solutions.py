# %% [markdown]
# # 00 · A tour of steplab: worked solutions
# Solutions to the three exercises of `00_tour.ipynb`, on the same quadratic
# $f(x) = 0.1\,x_1^2 + 2\,x_2^2$ (eigenvalues $\lambda = 0.2,\ 4$, $L = 4$) and from the same start $(-5, -2)$.

# %% [markdown]
# **How to use this notebook.**
# * Kernel **Python (steplab)** (`make lab` registers it and opens JupyterLab on `notebooks/`); *Run → Run All Cells*
#   takes about 5 s on a laptop CPU, no GPU needed.
# * These are the worked solutions to the exercises of `notebooks/00_tour.ipynb`; read that notebook first.
# * If `import steplab` fails, run `python -m steplab.check_env` in a terminal (`.venv/bin/python -m
#   steplab.check_env` in the repository): it lists what is missing. On Google Colab the next cell installs steplab
#   (README, *Course use*).

# %% [install]

# %%
import torch

from steplab import plots, rates
from steplab.tour import EIGENVALUES, clipped_gd, gd_rate_table, momentum

plots.use_style()
lam_min, lam_max = min(EIGENVALUES), max(EIGENVALUES)

# %% [markdown]
# ## Exercise 1 · The step size with the best GD rate
# The rate $\max_i|1-\eta\lambda_i|$ is the larger of $1-\eta\lambda_{\min}$ (falling in $\eta$) and
# $\eta\lambda_{\max}-1$ (rising once $\eta > 1/\lambda_{\max}$). It is smallest where the two meet:
#
# $$1-\eta\lambda_{\min} = \eta\lambda_{\max}-1 \iff \eta^* = \frac{2}{\lambda_{\min}+\lambda_{\max}} = \frac{2}{4.2}
# \approx 0.476,\qquad \text{rate } \frac{\lambda_{\max}-\lambda_{\min}}{\lambda_{\max}+\lambda_{\min}} = \frac{3.8}{4.2}
# \approx 0.905.$$
#
# Two checks: the closed form's minimum on a grid of step sizes (spacing 0.001), and `gd_rate_table`, which
# measures the contraction of a batched GD run, at $\eta^*$ and at a step size on either side of it.

# %%
# NBVAL_CHECK_OUTPUT
eta_star = 2 / (lam_min + lam_max)
grid = torch.arange(0.001, 0.5, 0.001, dtype=torch.float64)
best = float(grid[rates.gd_rate(grid, EIGENVALUES).argmin()])
print(f"eta* = 2/(lambda_min + lambda_max) = {eta_star:.4f}; grid minimiser {best:.3f}; "
      f"within one grid step: {abs(best - eta_star) <= 0.001}")
table = gd_rate_table(etas=(0.45, eta_star, 0.49))
for e, m, t in zip(table.eta.tolist(), table.measured.tolist(), table.theory.tolist()):
    print(f"eta = {e:.3f}: measured rate {m:.4f}, theory {t:.4f}")
measured = table.measured.tolist()
print("the measured rate is smallest at eta*:", measured[1] < min(measured[0], measured[2]))

# %% [markdown]
# ## Exercise 2 · The smallest β that rescues η = 0.6
# Heavy ball on one eigen-direction is the linear recursion $z^2 - (1+\beta-\eta\lambda)z + \beta = 0$; both roots lie
# inside the unit circle iff $0 \le \beta < 1$ and $0 < \eta\lambda < 2(1+\beta)$ (Polyak 1964). The binding direction
# is $\lambda_{\max} = 4$: $2.4 < 2(1+\beta) \iff \beta > \eta L/2 - 1 = 0.2$. So every $\beta > 0.2$ converges
# and there is no smallest one; at $\beta = 0.2$ the rate is exactly 1. `rates.heavy_ball_rate` on a grid of β
# (spacing 0.001, offset so that 0.2 is not on it) finds the first β with rate below 1, and two runs on either
# side of 0.2 confirm it.

# %%
# NBVAL_CHECK_OUTPUT
betas = torch.arange(0.0005, 0.999, 0.001, dtype=torch.float64)  # 0.0005, 0.0015, ...: no grid point on 0.2 itself
hb_rate = rates.heavy_ball_rate(0.6, betas, EIGENVALUES)
first = float(betas[hb_rate < 1].min())
print(f"first beta on the grid with rate < 1: {first:.4f}; theory beta > 0.6 * 4 / 2 - 1 = 0.2; "
      f"agree to one grid step: {0.2 < first < 0.2 + 0.001}")
print(f"rate at beta = 0.2: {float(rates.heavy_ball_rate(0.6, 0.2, EIGENVALUES)):.4f}")
below, above = momentum(0.6, 0.15, steps=300), momentum(0.6, 0.25, steps=300)
print("beta = 0.15: the loss grew past its start value:", bool(below.loss[-1, 0] > below.loss[0, 0]))
print("beta = 0.25: f(x_300) < 1e-20:", bool(above.loss[-1, 0] < 1e-20))

# %% [markdown]
# ## Exercise 3 · Clipping at c = 1 with η = 0.6
# Clipped GD moves by $\eta\min(1, c/\|g\|)\,\|g\| \le \eta c = 0.6$ per step, so the iterate can never run off to
# infinity: GD **no longer diverges**. It does not converge either. Near the optimum the gradient is small, clipping is
# off, and plain GD at $\eta = 0.6 > 2/L$ amplifies the $x_2$ direction by $|1 - 0.6\cdot 4| = 1.4$ per step until
# $\|g\| > c$ again. The two effects balance on a 2-cycle: with $x_1 \approx 0$ the gradient is $(0, 4x_2)$; while
# $|4x_2| > c$ every step has length exactly $\eta c = 0.6$ and flips the sign of $x_2$, so $x_2$ alternates between
# some $a$ and $a - 0.6$ with both $|4x_2| > 1$, i.e. $a \in (0.25, 0.35)$. From this start $a$ comes out close to
# $\eta c/2 = 0.3$, and the loss settles near $2\cdot 0.3^2 = 0.18$, while $x_1$ still shrinks to 0.

# %%
# NBVAL_CHECK_OUTPUT
clipped = clipped_gd(0.6, clip_threshold=1.0, steps=400)
loss = clipped.loss[:, 0]
x_last = clipped.iterates[-20:, 0]
step_length = torch.linalg.vector_norm(clipped.iterates[1:, 0] - clipped.iterates[:-1, 0], dim=-1)
print("every step is at most eta * c = 0.6 long:", bool((step_length <= 0.6 + 1e-12).all()))
print(f"bounded: the loss never exceeds its start value f(x_0) = {float(loss[0]):.1f}:", bool(loss[1:].max() <= loss[0]))
print("last 20 steps: each exactly 0.6 long (within 1e-9):", bool(((step_length[-20:] - 0.6).abs() < 1e-9).all()),
      "| sign of x_2 alternates:", bool((x_last[1:, 1] * x_last[:-1, 1] < 0).all()),
      "| |x_2| in (0.25, 0.35):", bool(((x_last[:, 1].abs() - 0.3).abs() < 0.05).all()),
      "| |x_1| < 1e-6:", bool((x_last[:, 0].abs() < 1e-6).all()))
print("final loss in (0.17, 0.19), near 2 * 0.3^2 = 0.18:", bool(0.17 < loss[-1] < 0.19))

# %%
fig, axes = plots.subplots(2)
plots.curves(axes[0, 0], clipped.loss[:, :1], labels=["clipped GD, η = 0.6, c = 1"], ylabel="f(x_t)")
axes[0, 0].set_title("the loss levels off near 0.18 instead of diverging")
axes[0, 1].plot(clipped.iterates[:61, 0, 1].numpy(), marker=".", lw=0.8)
axes[0, 1].set_xlabel("step t")
axes[0, 1].set_ylabel("x₂")
axes[0, 1].set_title("first 60 steps: x₂ ends on a 2-cycle near ±0.3")
fig.tight_layout()
