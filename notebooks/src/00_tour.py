# %% [markdown]
# # 00 · A tour of steplab
#
# steplab runs **many optimizer trajectories at once**: every tensor has a leading *runs* dimension,
# so a sweep over step sizes is a single tensor program. This tour shows the pieces on the
# ill-conditioned quadratic from d2l's momentum chapter,
#
# $$f(x) = 0.1\,x_1^2 + 2\,x_2^2, \qquad \text{eigenvalues } \lambda = 0.2,\ 4,\qquad L = 4.$$
#
# **The claim.** Gradient descent $x_{t+1} = x_t - \eta\nabla f(x_t)$ contracts each eigen-direction
# by $|1-\eta\lambda|$, so it converges iff $\eta < 2/L = 0.5$, at rate $\max_i|1-\eta\lambda_i|$.
# Heavy ball $v_{t+1} = \beta v_t + \nabla f(x_t)$, $x_{t+1} = x_t - \eta v_{t+1}$ (Polyak 1964)
# converges at $(\eta,\beta) = (0.6, 0.5)$ where GD diverges.

# %% [markdown]
# **How to use this notebook.**
# * Kernel **Python (steplab)** (`make lab` registers it and opens JupyterLab on `notebooks/`); *Run → Run All Cells*
#   takes about 6 s on a laptop CPU, no GPU needed.
# * Every output is stored, so you can read the notebook before running it; a *Try it* cell shows its picture at the
#   sliders' starting values until you run it, then the live sliders.
# * If `import steplab` fails, run `python -m steplab.check_env` in a terminal (`.venv/bin/python -m
#   steplab.check_env` in the repository): it lists what is missing. On Google Colab the next cell installs steplab
#   (README, *Course use*).
# * Worked solutions to the exercises: `notebooks/solutions/00_tour_solutions.ipynb`.

# %% [install]

# %%
import torch

import steplab
from steplab import claims, plots, rates
from steplab.tour import EIGENVALUES, clipped_gd, gd, gd_rate_table, landscape, momentum

plots.use_style()
print("steplab", steplab.__version__, "| device for big sweeps:", steplab.default_device())

# %% [markdown]
# ## 1 · GD at η = 0.4 converges, at η = 0.6 it diverges
# Both step sizes run in **one call**: `eta` is a tensor with one entry per run. The driver
# records every iterate, the loss, and for each run the step at which it diverged.

# %%
# NBVAL_CHECK_OUTPUT
runs = gd(torch.tensor([0.4, 0.6], dtype=torch.float64), steps=60)
for r, eta in enumerate([0.4, 0.6]):
    print(f"eta = {eta}: {runs.divergence_message(r)}; f(x_60) = {float(runs.loss[-1, r]):.3g}")

# %%
land = landscape((-5.5, 1.5), (-3.0, 3.0))  # f on a 200 x 200 grid, computed once for every contour below
fig, axes = plots.subplots(2)
for ax, r, eta in zip(axes[0], [0, 1], [0.4, 0.6]):
    plots.contour(ax, land.xs, land.ys, land.values)
    plots.paths(ax, runs, runs=[r])  # the title names the run: no legend over the path
    ax.set_title(f"η = {eta}: " + ("diverges (η > 2/L = 0.5)" if r else "converges"))
fig.tight_layout()

# %% [markdown]
# ## 2 · Heavy ball at (η, β) = (0.6, 0.5) converges
# The same step size that made GD diverge converges once momentum is added; the rate is
# $\sqrt{\beta} \approx 0.707$ because both eigenvalues are under-damped.

# %%
# NBVAL_CHECK_OUTPUT
hb = momentum(0.6, 0.5, steps=60)
print(f"heavy ball (0.6, 0.5): {hb.divergence_message(0)}; f(x_60) = {float(hb.loss[-1, 0]):.2e}")
print(f"theory rate = {float(rates.heavy_ball_rate(0.6, 0.5, EIGENVALUES)):.4f}")

# %%
fig, axes = plots.subplots(2)
plots.contour(axes[0, 0], land.xs, land.ys, land.values)
plots.paths(axes[0, 0], hb, labels=["heavy ball (0.6, 0.5)"])
axes[0, 0].set_title("heavy ball path")
plots.curves(axes[0, 1], torch.stack([runs.loss[:, 0], hb.loss[:, 0]], 1), labels=["GD η=0.4", "HB (0.6, 0.5)"],
             ylabel="f(x_t)")
axes[0, 1].set_title("loss (log scale)")
fig.tight_layout()

# %% [markdown]
# ## 3 · The measured rate equals max |1 − ηλ|
# Five step sizes in one batched run; the contraction per step measured between $t=100$ and
# $t=200$ against the closed form.

# %%
# NBVAL_CHECK_OUTPUT
table = gd_rate_table()
for e, m, t in zip(table.eta.tolist(), table.measured.tolist(), table.theory.tolist()):
    print(f"eta = {e:.2f}: measured rate {m:.6f}   theory max|1-eta*lambda| = {t:.6f}")

# %% [markdown]
# ## 4 · Norm clipping: raw vs clipped gradient norms
# Clipping rescales the gradient to norm at most $c$: $\mathrm{clip}_c(g) = \min(1, c/\|g\|)\,g$.
# Far from the optimum the raw norm exceeds $c$ and the step is shortened; near it clipping is
# inactive and the method is plain GD again.

# %%
# NBVAL_CHECK_OUTPUT
clipped = clipped_gd(0.4, clip_threshold=1.0, steps=60)
active = int((clipped.grad_norm[:, 0] > 1.0).sum())
print(f"clipping active for the first {active} steps; f(x_60) = {float(clipped.loss[-1, 0]):.3g}")

# %%
fig, axes = plots.subplots(1)
both = torch.stack([clipped.grad_norm[:, 0], clipped.clipped_grad_norm[:, 0]], 1)
plots.curves(axes[0, 0], both, labels=["‖g‖ raw", "‖g‖ after clipping (c = 1)"], ylabel="gradient norm")
axes[0, 0].set_title("GD with norm clipping, η = 0.4");

# %% [markdown]
# ## 5 · Try it: η and β sliders
# Move the sliders; the trajectory is recomputed (50 steps, a few milliseconds).

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt

from steplab.plots import widgets as sliders


def show(eta=0.4, beta=0.0):
    traj = momentum(eta, beta, steps=50)
    fig, axes = plots.subplots(1, width=6.4)
    plots.contour(axes[0, 0], land.xs, land.ys, land.values)
    plots.paths(axes[0, 0], traj)
    # e.g. "diverging: the loss grows ×1.44 per step (steps 25–50); below 1e+12 after 50 steps" at η = 0.55
    axes[0, 0].set_title(f"η = {eta:.2f}, β = {beta:.2f}: " + traj.divergence_message(0).replace("; ", ";\n"))
    plt.show()


widgets.interact(show, eta=sliders.slider(0.4, 0.05, 0.9, 0.05, "step size η"),
                 beta=sliders.slider(0.0, 0.0, 0.95, 0.05, "momentum β"));

# %% [markdown]
# ## Summary
# * Every steplab run is batched: pass a tensor of step sizes, get one trajectory per entry.
# * GD on a quadratic converges iff η < 2/L, at rate max|1 − ηλ|; heavy ball extends the stable range.
# * Clipping shows up as the gap between raw and clipped gradient norms.
#
# ## Exercises
# 1. Find the η that minimises the GD rate max|1 − ηλ| here (answer: 2/(λ_min + λ_max)) and check it with `gd_rate_table`.
# 2. For η = 0.6, find the smallest β for which heavy ball converges using `rates.heavy_ball_rate`.
# 3. With clipping at c = 1 and η = 0.6, does GD still diverge? Explain with the clipped step length ηc.
#
# ## What this notebook verified on your machine

# %%
# NBVAL_CHECK_OUTPUT
claims.table("tour")
