# %% [markdown]
# # 03 · Heavy-ball diffusion sampling: solutions to the exercises
#
# Solutions for `notebooks/03_heavy_ball_diffusion.ipynb` (Wizadwongsa et al., ICLR 2024).

# %% [markdown]
# **How to use this notebook.**
# * Kernel **Python (steplab)** (`make lab` registers it and opens JupyterLab on `notebooks/`); *Run → Run All Cells*
#   takes about 15 s on a laptop CPU, no GPU needed.
# * These are the worked solutions to the exercises of `notebooks/03_heavy_ball_diffusion.ipynb`; read that notebook
#   first.
# * If `import steplab` fails, run `python -m steplab.check_env` in a terminal (`.venv/bin/python -m
#   steplab.check_env` in the repository): it lists what is missing. On Google Colab the next cell installs steplab
#   (README, *Course use*).

# %% [install]

# %%
import torch

from steplab import plots
from steplab.diffusion import experiments, integrate, orders, sample, theory
from steplab.diffusion.metrics import divergence_fraction, median_error, reference_samples
from steplab.plots import diffusion as dplots

torch.set_num_threads(1)
plots.use_style()

# %% [markdown]
# ## 1 · The real boundary of AB2 + HB
# AB2 + HB is $A(e) = (1-e)(1-(1-\beta)e)$, $B(e) = \beta(3e - e^2)/2$. At θ = π, $e = -1$:
# $A(-1) = 2(2-\beta)$ and $B(-1) = \beta(-3-1)/2 = -2\beta$, so $z(\pi) = -(2-\beta)/\beta$;
# for β = 0.7 that is $-1.3/0.7 = -1.857$.

# %%
# NBVAL_CHECK_OUTPUT
beta = 0.7
print(f"closed form {-(2 - beta) / beta:.6f}, library {theory.real_interval_closed_form('hb1.7'):.6f}, "
      f"root finding {theory.real_interval_by_roots('hb1.7'):.6f}")

# %% [markdown]
# ## 2 · Nesterov momentum
# Nesterov (Eq. 49) uses $(1-\beta)v_{n+1} + \beta p_n$ as the update, which multiplies $B$ by $2-\beta-(1-\beta)e$.
# Near the imaginary axis HB *loses* height (its region pinches towards the origin), Nesterov keeps it (even
# gains, relative to PLMS4); along the real axis Nesterov gains less than HB:
# $z(\pi) = A(-1)/B(-1) = 2(2-\beta)/(\beta B_{AB}(-1)(3-2\beta))$. We measure the height of the stable set
# (first unstable |Im z|) on the line Re z = −0.02 with `stable_mask`.

# %%
fig, axes = plots.subplots(1, width=5.0, height=4.2)
dplots.stability_regions(axes[0, 0], theory.stability_regions(["plms4", "hb3.8", "nt3.8"], xlim=(-0.6, 0.2),
                                                              ylim=(-0.7, 0.7)))
axes[0, 0].set_title("PLMS4, HB 3.8 and Nesterov 3.8")
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
imag = torch.linspace(0.0, 3.0, 3001, dtype=torch.float64)
for name in ("plms4", "hb3.8", "nt3.8"):
    unstable = ~theory.stable_mask(name, torch.full_like(imag, -0.02), imag)
    height = float(imag[unstable.nonzero()[0]])
    print(f"{name:>6}: real boundary {theory.real_interval_closed_form(name):.4f} "
          f"(roots {theory.real_interval_by_roots(name):.4f}), stable height at Re z = -0.02: {height:.3f}")

# %% [markdown]
# ## 3 · How much HB damping does the GMM need at N = 10?
# We want the *largest* β (the least damping, so the least loss of accuracy) with no diverged sample at N = 10.
# Going from β = 0.9 down, the first β that diverges nowhere is the answer; every smaller β also avoids
# divergence but costs more accuracy.

# %%
# NBVAL_CHECK_OUTPUT
betas = ("hb3.9", "hb3.8", "hb3.7", "hb3.6", "hb3.5")
sweep = experiments.gmm_sweep(methods=("plms4",) + betas, steps=(10, 30))
for name in ("plms4",) + betas:
    print(f"{name:>6}: diverged at N=10 {sweep.divergence[name][10]:.3f}, median error at N=30 "
          f"{sweep.error[name][30]:.3f} ({sweep.error[name][30] / sweep.error['plms4'][30]:.2f}x PLMS4)")
safe = [m for m in betas if sweep.divergence[m][10] == 0.0]
print("largest beta with no divergence at N=10:", safe[0] if safe else "none")

# %% [markdown]
# ## 4 · DPM-Solver++ with and without HB on a logSNR-uniform grid

# %%
# NBVAL_CHECK_OUTPUT
model, x_T, labels = experiments.gmm_problem(batch=200)
reference = reference_samples(model, 15.0, x_T, labels, steps=300)
for name in ("dpm++", "dpm++hb0.8"):
    errs = [float(median_error(sample(model, name, n, 15.0, x_T, labels, spacing="logsnr"), reference))
            for n in (10, 20, 40, 80)]
    ratios = ", ".join(f"{a / b:.2f}" for a, b in zip(errs[:-1], errs[1:]))
    print(f"{name:>11}: errors {', '.join(f'{e:.2e}' for e in errs)}; ratios when N doubles {ratios}")

# %% [markdown]
# DPM-Solver++ divides the error by ≈4 per doubling (second order); with HB β = 0.8 the ratio tends to 2 (first
# order, as Theorem 1 predicts for any HB). On the rounded linear-t grid DPM-Solver++'s error is erratic in N
# in our runs, so a single N = 30 comparison there can favour either method by luck of the grid.
#
# ## 5 · Exact starting values and the Euler warm-up

# %%
# NBVAL_CHECK_OUTPUT
def ab3_error(steps, exact_states):
    grid = torch.linspace(0.0, orders.T_END, steps + 1, dtype=torch.float64)
    start = orders.exact_states(grid[1:1 + exact_states]) if exact_states else None
    x = integrate(orders.smooth_rhs, torch.tensor([orders.X_START], dtype=torch.float64), grid, "plms3",
                  exact_start=start)
    return abs(float(x[0]) - orders.reference_value())


for exact, label in ((2, "x1, x2 exact (no warm-up)"), (1, "x1 exact, then AB2, AB3"), (0, "Euler, AB2, AB3")):
    e1, e2 = ab3_error(160, exact), ab3_error(320, exact)
    print(f"AB3 with {label:<26}: observed order {torch.log2(torch.tensor(e1 / e2)).item():.2f}")

# %% [markdown]
# Only the single Euler step ($O(\delta^2)$ local error, made once) pulls AB3 down to order 2; an AB2 second step
# ($O(\delta^3)$ once) keeps order 3.

# %% [markdown]
# ## 6 · Digits at stronger guidance
# At w = 5 the converged floor (DDIM, N = 100) is higher, and HB 3.8 needs more steps to reach it. Then, at w = 3 and
# N = 8, GHVB 3.β for β from 0.7 down to 0.3 against HB 3.8.

# %%
from steplab.diffusion import digits_experiments as de

strong = de.digits_grid(guidance=5.0)
ratios = {n: strong.value("out_of_range", "hb3.8", n) / strong.reference_out_of_range for n in strong.steps}
print("HB 3.8 / floor at w = 5:", ", ".join(f"N = {n}: {r:.2f}" for n, r in ratios.items()))
ghvb = de.digits_grid(("hb3.8", "ghvb3.7", "ghvb3.6", "ghvb3.5", "ghvb3.4", "ghvb3.3"), (8,))
print(ghvb.table())

# %%
# NBVAL_CHECK_OUTPUT
print("HB 3.8 within 1.3x the floor from N =", min(n for n, r in ratios.items() if r < 1.3))
hb = ghvb.value("out_of_range", "hb3.8", 8)
print("GHVB closest to HB 3.8 at N = 8:",
      min(ghvb.methods[1:], key=lambda m: abs(ghvb.value("out_of_range", m, 8) - hb)))

# %% [markdown]
# At w = 5 HB 3.8 reaches 1.3× the floor only at N = 20 (at w = 3 it is there by N = 15). GHVB needs β ≈ 0.4
# (GHVB 3.4) to match HB 3.8 = HB with β = 0.8: at equal β, GHVB's stability region gains less (section 2).
