# %% [markdown]
# # 02 · Large-step gradient descent on separable logistic regression
#
# **Papers.** A. Tyurin, *From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent
# with Large Step Sizes*, AAAI 2025 (arXiv 2412.08424) ·
# J. Wu, P. Bartlett, M. Telgarsky, B. Yu, *Large Stepsize Gradient Descent for Logistic Loss*, COLT 2024 ·
# P. Sao, *Ghosts of Softmax: Complex Singularities That Limit Safe Step Sizes in Cross-Entropy*, 2026.
#
# **The claim.** On linearly separable data, gradient descent on the logistic loss
# $f(\theta) = \frac1n\sum_i \log(1+e^{-y_i a_i^\top\theta})$ with a *huge* constant step $\gamma$ is not
# broken: as $\gamma\to\infty$ the iterates $\theta_t/\gamma$ follow the **Batch Perceptron**, which separates
# the data in finitely many steps. Larger steps separate sooner — up to the Batch Perceptron's own count — while
# the loss looks *worse*, so the loss is an unreliable progress measure (Tyurin); the price is a smaller margin.
# With a step that grows with the budget, $\eta = \Theta(T)$, GD oscillates for a while and then reaches loss
# $\tilde O(1/T^2)$ instead of $\sim 1/T$ (Wu et al.). The convergence radius $\rho_a$ of the loss along the
# step direction says when a step leaves the region where Taylor models are valid, and capping the step at
# $\rho_a$ survives a learning-rate spike (Sao).
#
# Everything below is computed by `steplab.logistic` in float64 (exact separation times need it); every
# number printed in a checked cell is a registered claim, re-checked in `tests/test_logistic.py` and in the table
# at the end. Exact counts of our own runs (separation times on digits, the toy's counts) are labelled *our
# regression values*: they pin the library's behaviour, they are not numbers from the papers.

# %% [markdown]
# **How to use this notebook.**
# * Kernel **Python (steplab)** (`make lab` registers it and opens JupyterLab on `notebooks/`); *Run → Run All Cells*
#   takes about 14 s on a laptop CPU, no GPU needed.
# * Every output is stored, so you can read the notebook before running it; a *Try it* cell shows its picture at the
#   sliders' starting values until you run it, then the live sliders.
# * If `import steplab` fails, run `python -m steplab.check_env` in a terminal (`.venv/bin/python -m
#   steplab.check_env` in the repository): it lists what is missing. On Google Colab the next cell installs steplab
#   (README, *Course use*).
# * Worked solutions to the exercises: `notebooks/solutions/02_large_step_logistic_solutions.ipynb`.

# %% [install]

# %%
import math

import matplotlib.pyplot as plt
import torch

from steplab import claims, plots
from steplab.device import to_host
from steplab.logistic import data, experiments, metrics, run_on, studies, theory
from steplab.plots import logistic as lplots

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)  # small problems: one thread is fastest and keeps results bit-reproducible
plots.use_style()

# %% [markdown]
# ## The algorithms
# With $z_i = y_i a_i$, margins $m_i = z_i^\top\theta$ and $\theta_0 = 0$ (all in `steplab.logistic.algorithms`,
# every method batched over a vector of step sizes):
#
# | method | update |
# |---|---|
# | LR+GD | $\theta_{t+1} = \theta_t + \frac{\gamma}{n}\sum_i \sigma(-m_i)\,z_i$ |
# | Batch Perceptron | $\hat\theta_1 = \frac1{2n}\sum_i z_i$, then $\hat\theta_{t+1} = \hat\theta_t + \frac1n\sum_{m_i\le 0} z_i$ |
# | Normalized Batch Perceptron | $\hat\theta_{t+1} = \hat\theta_t + \frac1{|S_t|}\sum_{i\in S_t} z_i$, $S_t=\{m_i\le0\}$ |
# | Normalized LR+GD | $\theta_{t+1} = \theta_t + \gamma\sum_i p_i z_i$, $p = \mathrm{softmax}(-\mathrm{softplus}(m))$ |
# | ρ_a-capped GD | the LR+GD step shortened to length $\rho_a$ (normalized step $r_t\le1$) |
#
# The ½ in the first Batch Perceptron step is $\sigma(0)$; Normalized LR+GD is Tyurin's
# $\theta_t - \gamma\beta_t\nabla f$ with $\beta_t = (\frac1n\sum_i\sigma(-m_i))^{-1}$, written in a form that
# does not overflow once the data are separated.
#
# ## 1 · One huge step: the loss explodes, the next step separates (Tyurin, Thm 4.1)
# Two points, $a_1 = (1,-1)$ with $y=+1$ and $a_2 = (-1,-4)$ with $y=-1$. At $\gamma = 100$,
# $f(\theta_1) = \frac12[\log(1+e^{\gamma/4}) + \log(1+e^{-7\gamma/2})] \approx \gamma/8 = 12.5$, far above
# $f(\theta_0) = \ln 2$ — yet $\theta_2$ classifies both points correctly with a loss below $10^{-30}$.

# %%
# NBVAL_CHECK_OUTPUT
h41 = experiments.thm41()
print(f"f(theta_0) = {float(h41.loss[0, 0]):.4f}, f(theta_1) = {float(h41.loss[1, 0]):.3f} "
      f"(closed form {float(theory.thm41_first_loss(100.0)):.3f}), f(theta_2) = {float(h41.loss[2, 0]):.1e}")
print("accuracy t=0,1,2:", [round(float(a), 2) for a in h41.accuracy[:, 0]])
print(f"||grad f(theta_1)|| = {float(h41.grad_norm[1, 0]):.4f} (limit sqrt(2)/2 = {math.sqrt(2) / 2:.4f})")

# %%
toy41 = data.thm41_toy()
gammas = torch.logspace(-1, 3, 41)
sweep41 = experiments.thm41(tuple(gammas.tolist()))
fig, axes = plots.subplots(2)
lplots.toy_boundaries(axes[0, 0], toy41, h41.weights[:, 0], steps=[1, 2], title="γ = 100: decision lines θ_1, θ_2",
                      span=5)
axes[0, 1].loglog(gammas, sweep41.loss[1], label="f(θ_1)")
axes[0, 1].loglog(gammas, sweep41.loss[2].clamp_min(1e-300), label="f(θ_2)")
axes[0, 1].axhline(math.log(2), color="k", ls="--", lw=0.8, label="f(θ_0) = ln 2")
axes[0, 1].set_xlabel("step size γ")
axes[0, 1].set_ylabel("loss")
axes[0, 1].set_title("after one step vs after two steps")
plots.legend(axes[0, 1])
lplots.close(fig)

# %% [markdown]
# ## 2 · The reduction: LR+GD / γ → Batch Perceptron (Thm 3.2)
# Digits 3 vs 8 from sklearn (357 images, 64 pixels scaled to [0, 1], no bias). Batch Perceptron
# separates them at $t = 86$ (our regression value). For each γ we run LR+GD (all γ in one batched call) and
# measure $\max_t\|\theta_t/\gamma - \hat\theta_t\|$ and the first $t$ where the sign pattern $1[m_i>0]$
# differs. Thm 3.2 needs Tyurin's Assumption 3.1 (no perceptron margin is exactly 0, so every
# $\sigma(-\gamma m_i)$ tends to 0 or 1); here it holds but only barely: the smallest $|m_i|$ along the
# perceptron path is about $5\cdot10^{-6}$, so agreement of every sign needs $\gamma\cdot 5\cdot10^{-6}\gg 1$.
# At $\gamma = 10^8$ all 86 sign patterns agree; at $10^6$ and $10^4$ the first differ at $t = 73$ and $42$
# (our regression values).

# %%
# NBVAL_CHECK_OUTPUT
grid = tuple(10.0**k for k in range(0, 9))
red = experiments.reduction("digits_3v8", grid)
times = experiments.perceptron_times("digits_3v8")
print(f"Batch Perceptron separates at t = {times.batch_perceptron}, "
      f"Normalized Batch Perceptron at t = {times.normalized_batch_perceptron}")
print(f"smallest |margin| on the perceptron path: {red.smallest_abs_margin:.1e}")
for gamma, mismatch, distance, t_sep in zip(grid, red.first_mismatch, red.max_distance, red.lr_gd.separated_at):
    if gamma >= 1e4:
        agree = "all sign patterns agree" if mismatch < 0 else f"first mismatch at t = {int(mismatch)}"
        sep = f"LR+GD separates at t = {int(t_sep)}" if t_sep > 0 else f"LR+GD not yet separated at t = {red.lr_gd.steps}"
        print(f"gamma = {gamma:.0e}: {agree}; {sep}")
gauss = experiments.reduction("gaussian", (1e2, 1e4, 1e6))
print(f"Gaussian data (n=200, d=10): max_t distance at gamma=1e6 = {float(gauss.max_distance[2]):.0e} (<= 1e-15)")

# %%
fig, axes = plots.subplots(2)
lplots.reduction(axes[0, 0], red.gammas, red.max_distance, red.first_mismatch)
d = red.distance.clamp_min(1e-17)
for k, gamma in enumerate(grid):
    if k % 2 == 0:
        axes[0, 1].semilogy(d[:, k], label=f"γ = {gamma:.0e}")
axes[0, 1].set_xlabel("iteration t")
axes[0, 1].set_ylabel("‖θ_t/γ − θ̂_t‖")
axes[0, 1].set_title("distance to the perceptron path over time")
plots.legend(axes[0, 1])
lplots.close(fig)

# %% [markdown]
# Small distances at moderate γ are not monotone in γ: once one sign differs the paths branch and may meet
# again later. Only when γ times the smallest margin is huge do the paths coincide to machine precision.
#
# ## 3 · The loss is an unreliable progress measure (Tyurin, Figs. 1–4)
# LR+GD on digits 3 vs 8 for γ from $10^{-3}$ to $10^4$ (one batched run, 3000 steps), with Batch Perceptron.
# Up to γ = 10 each decade of γ divides the separation time by 10 (2779 → 278 → 82); beyond that it levels
# off at the Batch Perceptron's 86 (82, 83, 87 for γ = 10, 100, 10⁴; our regression values), because the
# γ → ∞ limit *is* that perceptron run. Meanwhile the loss at $t = 10$ of γ = 100 is 64× that of γ = 1, and the
# gradient norm stays large and chaotic until separation. Every run here, once separated, stays separated
# (the time it first separates is the time it stays separated from).

# %%
# NBVAL_CHECK_OUTPUT
sweep38 = experiments.digits_sweep("digits_3v8")
lr38, bp38 = sweep38.lr_gd, sweep38.perceptron
print(" gamma | separated at | loss at t=10")
for gamma, t_sep, loss10 in zip(lr38.step_sizes, lr38.separated_at, lr38.loss[10]):
    print(f"{float(gamma):6g} | {int(t_sep) if t_sep >= 0 else 'not in 3000':>12} | {float(loss10):.3g}")
print(f"Batch Perceptron: separated at t = {int(bp38.separated_at[0])}")
sweep49 = experiments.digits_sweep("digits_4v9")
lr49, bp49 = sweep49.lr_gd, sweep49.perceptron
print("digits 4 vs 9: Batch Perceptron", int(bp49.separated_at[0]), "| LR+GD gamma=1/10/100/1e4:",
      [int(t) for t in lr49.separated_at[3:]])

# %%
fig, axes = plots.subplots(3, width=4.2)
lplots.histories(axes[0], lr38, bp38)
axes[0, 0].set_title("digits 3 vs 8: larger γ,\nhigher loss early …")
axes[0, 1].set_title("… yet separated sooner,\ndown to BP's 86")
axes[0, 2].set_title("‖∇f‖ stays large\nuntil separation")
lplots.close(fig)

# %% [markdown]
# ### The price: a smaller margin (Tyurin, Sec. 8)
# Tyurin notes that the γ → ∞ limit generally does not return the max-margin solution: the implicit bias of
# LR+GD towards the max-margin direction (Soudry et al. 2018) needs γ < ∞. We track the normalized margin
# $\min_i m_i/\|\theta_t\|$ of the same runs against the max-margin $\mu$ (its largest possible value).

# %%
# NBVAL_CHECK_OUTPUT
mar = studies.margins("digits_3v8")
ratio = (mar.normalized[-1] / mar.mu).tolist()
print(f"max-margin mu = {mar.mu:.4f}")
print(f"at T = {mar.steps}: margin/mu > 0.5 for gamma = 1 and 10: {min(ratio[3], ratio[4]) > 0.5}; "
      f"gamma = 100 below a third of gamma = 10: {ratio[5] < ratio[4] / 3}; gamma = 1e4 below 0.05: {ratio[6] < 0.05}")
print(f"Batch Perceptron margin/mu below 0.05: {mar.perceptron / mar.mu < 0.05}")

# %%
print("margin / mu at T = 3000 (values vary in the last digits across machines):",
      {f"{g:g}": round(v, 3) for g, v in zip(mar.gammas.tolist(), ratio)},
      f"Batch Perceptron {mar.perceptron / mar.mu:.4f}, Normalized BP {mar.normalized_perceptron / mar.mu:.3f}")
fig, axes = plots.subplots(1, width=6.0)
lplots.margins(axes[0, 0], mar)
axes[0, 0].set_title("digits 3 vs 8: large γ trades margin for speed")
lplots.close(fig)

# %% [markdown]
# With γ = 1 or 10 the margin after 3000 steps is about 0.7 μ and still growing; γ = 100 sits near 0.13 μ and
# γ = 10⁴ is stuck at about 0.01 μ — barely more than the Batch Perceptron's 0.003 μ, which never moves after it
# separates. Small γ (0.1 and below) have not separated yet, so their margin is still negative at T = 3000.

# %% [markdown]
# ## 4 · Tyurin's Table 1: the worst case for Batch Perceptron
# Thm 5.1: one point $(0.5,-1)$ with $y=+1$ and $n-1$ points $(-0.5,-1)$ with $y=-1$ ($\mu = 0.5$,
# $R = \sqrt{1.25}$). Batch Perceptron (the γ → ∞ limit of LR+GD) needs $\Omega(n)$ steps because the
# lone positive point gets weight $1/n$; the *normalized* variants weight the misclassified set by
# $1/|S_t|$ and need $R^2/\mu^2$-type counts independent of $n$. With $n = 1000$ we reproduce the first row
# of Table 1 exactly.

# %%
# NBVAL_CHECK_OUTPUT
t1 = experiments.table1_worst_case(1000)
worst = data.thm51_worst_case(1000)
mm = worst.margin()
print(f"mu = {mm.mu:.4f}, R = {worst.radius:.4f}, bound n R^2/mu^2 = {worst.n * worst.radius**2 / mm.mu**2:.0f}")
print("Normalized LR+GD, gamma = 100/10/1/0.1:", [int(v) for v in t1.normalized], "(paper: 2/2/16/157)")
print("LR+GD, gamma = 100:", int(t1.lr_gd[0]), "(paper: 308); Batch Perceptron:", t1.perceptron)
imb = experiments.table1_imbalanced()
print("imbalanced digits (183 threes + 17 eights), gamma = 100/10/1/0.1:")
print("  LR+GD            first separated:", [int(v) for v in imb.lr_gd])
print("  Normalized LR+GD first separated:", [int(v) for v in imb.normalized])
print("  Normalized LR+GD stays separated sooner than LR+GD for gamma = 1, 0.1:",
      [bool(imb.normalized_stays[k] < imb.lr_gd_stays[k]) for k in (2, 3)])
print("worst case, Normalized LR+GD stays separated from:", [int(v) for v in t1.normalized_stays])

# %%
print("stays separated from (the Normalized LR+GD values vary across machines: after losing the separation the")
print("path is sensitive to the last bits) -- imbalanced: LR+GD", imb.lr_gd_stays.tolist(), "Normalized",
      imb.normalized_stays.tolist())
fig, axes = plots.subplots(2, width=5.0)
lplots.separation_bars(axes[0, 0], t1, "Thm 5.1 worst case, n = 1000")
lplots.separation_bars(axes[0, 1], imb, "imbalanced digits 3 vs 8 (n = 200)")
lplots.close(fig)

# %% [markdown]
# Table 1 counts the first time accuracy reaches 1 (Tyurin's measure, and the bars above). Normalized LR+GD,
# though, separates and then loses it again: on the worst case it stays separated only from t = 4 at γ = 100
# and 10 (first: 2), and on the imbalanced digits only from t ≈ 130–170 although it first separates at 43–51
# (these later times vary across machines; the next cell prints them).
# LR+GD and the Batch Perceptrons stay separated once they separate (up to 2 steps later for LR+GD at γ = 100).
#
# **Said honestly:** the normalized method wins clearly on the worst case and for small γ on the imbalanced
# digits (by both counts), but at γ = 10 and 100 plain LR+GD separates the imbalanced digits *sooner* (36 and
# 19 vs 50 and 43 at first separation; 36 and 21 vs about 170 counted by "stays separated"). (LR+GD at
# γ ≤ 1 does not separate the worst case within 1000 steps: no bar.)
#
# ### Balanced data: Tyurin's Figs. 6–7 and the balanced row of Table 1
# On balanced data Tyurin finds the plain Batch Perceptron slightly better than the normalized one, and on
# balanced FashionMNIST plain LR+GD (γ = 10: 2778 iterations) beats every Normalized LR+GD run. We run the same
# table on the two balanced digits pairs.

# %%
# NBVAL_CHECK_OUTPUT
for name in ("digits_4v9", "digits_3v8"):
    bal = studies.balanced_table(name)
    print(f"{name}: Batch Perceptron {bal.perceptron}, Normalized Batch Perceptron {bal.normalized_perceptron}")
    print("  LR+GD            gamma = 100/10/1/0.1: first", [int(v) for v in bal.lr_gd])
    print("  Normalized LR+GD gamma = 100/10/1/0.1: first", [int(v) for v in bal.normalized])
    print("  best LR+GD stays separated sooner than the best Normalized LR+GD:",
          int(bal.lr_gd_stays.min()) < int(bal.normalized_stays.min()))

# %%
for name in ("digits_4v9", "digits_3v8"):
    bal = studies.balanced_table(name)
    print(f"{name} stays separated from (Normalized values vary across machines): LR+GD {bal.lr_gd_stays.tolist()}, "
          f"Normalized {bal.normalized_stays.tolist()}")
fig, axes = plots.subplots(2, width=5.0)
for ax, name in zip(axes[0], ("digits_4v9", "digits_3v8")):
    ds = data.digits_pair(*[int(c) for c in name.removeprefix("digits_").split("v")])
    for k, method in enumerate(("batch_perceptron", "normalized_batch_perceptron")):
        h = to_host(run_on(ds, [1.0], 100, method))
        ax.plot(h.accuracy[:, 0], color=plots.COLORS[k], label=method.replace("_", " "))
    ax.set_xlabel("iteration t")
    ax.set_ylabel("training accuracy")
    ax.set_ylim(0.8, 1.005)
    ax.set_title(f"{name.replace('_', ' ')} (balanced)")
    plots.legend(ax)
lplots.close(fig)

# %% [markdown]
# Digits 4 vs 9 agree with Tyurin: the plain Batch Perceptron (18) beats the normalized one (33), and the best
# plain LR+GD (17, γ = 100) beats the best Normalized LR+GD (27 at first separation, about 60 counted by "stays
# separated"). Digits 3 vs 8 do **not**: there the Normalized Batch Perceptron wins (49 vs 86) and Normalized
# LR+GD separates first (47 vs 82); only counted by "stays separated" does plain LR+GD win (82 vs 180 or more),
# because Normalized LR+GD loses its separation again. "Plain is better on balanced data" is not a rule; it is
# registered as not reproduced on 3 vs 8.
#
# ## 5 · Wu et al.: an oscillating phase, then a stable phase
# The 4-point toy $x_1 = (1, 0.2), x_2 = (-2, 0.2)$ with $y = +1$; $x_3 = (-1,-0.2), x_4 = (2,-0.2)$ with
# $y = -1$. Its max-margin direction is $e_2$ with margin 0.2, while the large first coordinates make
# the loss non-monotone for large η. GD for η ∈ {0.1, 1, 4, 10, 30, 100}, $T = 10^4$, one batched run.
# (The toy has only 2 distinct signed points $y_ix_i$ and $\|x\|$ up to 2.01, so Wu et al.'s $\|x_i\|\le1$
# fails: it shows the phases, not the rate; the rate is measured on digits below.)

# %%
# NBVAL_CHECK_OUTPUT
wu = experiments.wu_phases()
print("  eta | loss increases | last increase at t | separated at | eta*L(T) | angle(w_T, e2)")
for k, eta in enumerate(wu.etas):
    print(f"{float(eta):5g} | {int(wu.increases[k]):14d} | {int(wu.last_increase[k]):18d} | "
          f"{int(wu.history.separated_at[k]):12d} | {float(wu.eta_final_loss[k]):.2e} | {float(wu.angle[k]):.2f} deg")

# %%
fig, axes = plots.subplots(2)
lplots.wu_losses(axes[0, 0], wu)
angles = metrics.angle_degrees(wu.history.weights[1:], wu.max_margin_direction)
t = torch.arange(1, angles.shape[0] + 1)
for k, eta in enumerate(wu.etas):
    axes[0, 1].loglog(t, angles[:, k], label=f"η = {float(eta):g}")
axes[0, 1].set_xlabel("iteration t")
axes[0, 1].set_ylabel("angle(w_t, max-margin direction) [deg]")
axes[0, 1].set_title("direction converges slowly (~1/log t)")
plots.legend(axes[0, 1], outside=True)
lplots.close(fig)

# %% [markdown]
# For η ≤ 4 the loss decreases monotonically; for η ≥ 10 it increases 9 times, all within the first 14 steps,
# and decreases monotonically afterwards (our regression values). What the stable phase reaches depends on η:
#
# * η = 1, 4, 10: $\eta L(T)\approx 2.5\cdot10^{-3}$, i.e. $L(T)\approx c/(\eta T)$ — the stable-phase rate
#   $\tilde O(1/(\eta t))$ for moderate η.
# * η = 30: $\eta L(T)$ is already *below* that line (0.75 of it): the oscillating phase ended ahead of it.
# * η = 100: the end of the oscillating phase overshoots to a loss near $5\cdot10^{-9}$ (printed above as
#   $\eta L(T)\approx 5\cdot10^{-7}$), far below the $1/(\eta t)$ line, and the loss curve is flat from
#   $t = 15$ on, with the direction frozen. This overshoot is the large-step gain.
#
# The oscillation length does not grow with η here (12–14 steps): the γ → ∞ limit is a finite perceptron run,
# so Wu et al.'s $O(\eta)$ phase length is an upper bound. The direction converges to the max-margin one slowly
# for moderate η (Soudry et al. 2018, direction error ~1/log t); at η = 100 it is frozen 3.5° away.
#
# ### Wu et al.'s headline rate: η = Θ(T) gives Õ(1/T²)
# With a budget of $T$ steps and $\eta = cT$, Wu et al. bound the loss after $T$ steps by $\tilde O(1/T^2)$,
# against $\sim1/T$ for a fixed η. On digits 4 vs 9 (a separable pair; $\|x_i\|$ up to 4.4 only changes the
# constants) we run one GD per budget $T\in\{100,\dots,3200\}$ with $\eta = 0.1\,T$ (one batched call) and
# one run at η = 1, and fit the slope of $\log L(T)$ against $\log T$.

# %%
# NBVAL_CHECK_OUTPUT
rate = studies.wu_rate()
print(f"eta = 0.1 T: fitted slope below -1.9 (at least 1/T^2): {rate.large_slope < -1.9}")
print(f"eta = 1: fitted slope in (-1.1, -0.6) (about 1/T): {-1.1 < rate.fixed_slope < -0.6}")
print("large step lower at every T:", bool((rate.large_step_loss < rate.fixed_loss).all()))

# %%
print(f"fitted slopes (vary in the last digits across machines): eta = 0.1 T: {rate.large_slope:.2f}, "
      f"eta = 1: {rate.fixed_slope:.2f}")
fig, axes = plots.subplots(1, width=5.5)
lplots.wu_rate(axes[0, 0], rate)
axes[0, 0].set_title("digits 4 vs 9: loss after T steps")
lplots.close(fig)

# %% [markdown]
# The η = 0.1 T runs fall faster than the 1/T² reference (fitted slope about −2.6): the bound $\tilde O(1/T^2)$
# is an upper bound and logistic loss on separated data can fall faster. The fixed η = 1 run falls like
# $T^{-0.8}$, i.e. $\sim 1/T$ up to the log factors of the stable phase. At $T = 3200$ the large step is ahead by
# more than three orders of magnitude.
#
# ## 6 · Ghosts of softmax: the normalized step r
# Along a unit direction $v$, the logit of sample $i$ moves at speed $a_i^\top v$ (one Jacobian–vector
# product), and the loss as a function of the step length $\tau$ has complex singularities at distance
# $\sqrt{m_i^2+\pi^2}/|a_i^\top v|$. The batch radius is $\rho_a = \pi/\max_i|a_i^\top v|$ and the normalized
# step is $r = \tau/\rho_a$; for GD, $r_t = \gamma\max_i|a_i^\top\nabla f(\theta_t)|/\pi$.
# **ρ_a-capped GD** shortens every step to at most $\rho_a$ ($r_t\le1$), with a huge nominal γ.

# For the linear binary model the exact radius is known too: each sample's loss $\log(1+e^{-(m_i+\tau a_i^\top
# v)})$ has its nearest complex singularity at $\sqrt{m_i^2+\pi^2}/|a_i^\top v|$ (Sao, Thm 4.3), so the batch
# loss's exact radius is the smallest of these, at least $\rho_a$. We report the normalized step against both.

# %%
# NBVAL_CHECK_OUTPUT
cap = experiments.capped_vs_plain()
print(f"plain LR+GD, gamma = 100: max r_t > 100: {cap.plain_r_max > 100}, also against the exact radius: "
      f"{cap.plain_exact_r_max > 100}; separated at t = {int(cap.plain.separated_at[0])}, "
      f"stays separated from t = {int(cap.plain.stays_separated_from[0])}")
print(f"rho_a-capped GD, gamma = 1e4: first separated at t = {int(cap.capped.separated_at[0])}, stays separated "
      f"from t = {int(cap.capped.stays_separated_from[0])}; r_t = 1 (cap active) at {cap.capped_at_radius} of those "
      f"steps; loss never above ln 2: {cap.capped_loss_max <= math.log(2) + 1e-12}")

# %%
print(f"raw values (vary in the last digits across machines): plain r_t up to {cap.plain_r_max:.1f} "
      f"(exact-radius r up to {cap.plain_exact_r_max:.1f}, median r {cap.plain_r_median:.3f} before separation), "
      f"loss up to {cap.plain_loss_max:.1f}")
fig, axes = plots.subplots(2)
lplots.r_traces(axes[0, 0], cap)
axes[0, 0].set_title("digits 3 vs 8: normalized step")
lplots.loss_traces(axes[0, 1], cap)
axes[0, 1].set_title("capped: no loss spikes, but separation flickers")
lplots.close(fig)

# %% [markdown]
# Plain γ = 100 takes steps up to 243 radii long (202 against the exact radius): no Taylor model is valid there,
# yet the data get separated at t = 83 and stay so — Tyurin's perceptron regime. The capped method keeps
# $r_t\le1$ and never rises above its initial loss ln 2, and it first separates at t = 40 — but it does not
# stay separated: its accuracy flips between 1 and just below 1 every other step, and it stays separated only
# from t = 72. The reason: with γ = 10⁴ the cap is active at *every* step, so every step moves the most-moved
# margin by exactly π; ρ_a-capped GD is then a normalized GD with step length $\pi/\max_i|a_i^\top v|$, which
# keeps pushing the margins of the last points back and forth instead of settling. Counted by "stays
# separated", it wins 72 against 83 (our regression values), not 40 against 83.
#
# ### One step of length rρ_a on 10-class softmax regression (Sao, Figs. 1, 7, 8)
# Softmax regression with bias on all ten digits (1257 train / 540 test), trained by Adam (lr 0.05,
# 2000 steps) to training loss 2.8·10⁻³. From the trained weights we take **one** step of length $r\rho_a$
# along $-\nabla f$ and along 10 random directions, on a fine grid of $r$ from 0.1 to 100 (ρ_a from one batched
# JVP of the logits, $\Delta_a = \max_k a_k - \min_k a_k$). Sao's onset is the first $r$ where the loss ratio
# exceeds 1.1 (2.0 for random directions). How the setup differs: our model is trained almost to zero loss,
# while Sao's checkpoints sit at 73–94 % accuracy, where the margins are less confident.

# %%
# NBVAL_CHECK_OUTPUT
trained = experiments.trained_softmax()
ons = studies.onsets()
print(f"trained: train loss {trained.train_loss:.1e}, test accuracy {trained.test_accuracy:.3f}")
print(f"onset along -grad f (ratio > 1.1): r = {ons.grad_onset:g}")
print("random directions, onset with ratio > 2.0 (the grid point):", [f"{v:g}" for v in ons.random_onsets.tolist()])
print("random directions, onset with ratio > 1.1:", [f"{v:g}" for v in ons.random_onsets_strict.tolist()])

# %%
fig, axes = plots.subplots(2)
lplots.r_sweep(axes[0, 0], ons.sweep, thresholds=(1.1, 2.0))
axes[0, 0].set_title("one step: loss ratio")
lplots.r_sweep(axes[0, 1], ons.sweep, "accuracy_kept")
axes[0, 1].set_title("one step: test accuracy kept")
lplots.close(fig)

# %% [markdown]
# With Sao's thresholds both onsets lie in $r\in[1,10]$, where Sao places them: the gradient step first
# raises the loss by more than 10 % at $r = 3$ (it *decreases* the loss up to $r = 2$), and the random
# directions first double it at $r = 1.5$–$3$. Measured with the stricter ratio 1.1, though, the random
# directions cross already at $r = 0.5$–$1$, i.e. partly *below* $r = 1$: the radius is a bound on where the
# Taylor series converges, not a promise that the loss does not rise before it.
#
# ### Sao's learning-rate spike on a small network (Fig. 6, Table 1)
# An MLP 64 → 128 → 10 (ReLU) on the same digits split, trained by Adam (η₀ = 10⁻³, minibatches of 128) for 220
# steps. From step 50 to step 200 the learning rate is multiplied by 1000 or 10⁴. Three variants, 5 seeds each,
# all 30 runs batched: plain Adam; gradient clipping $\|g\|\le1$ before Adam; and Sao's controller, which
# shortens Adam's update $p$ to $\min(1,\rho_a/\|p\|)\,p$ with ρ_a from the JVP of the minibatch logits along
# $p$. We record the training loss every 10 steps, the normalized step $r_t=\|p_t\|/\rho_a$ of the uncapped
# update, and the test accuracy at the end.

# %%
# NBVAL_CHECK_OUTPUT
runs = studies.spike_runs()
acc = runs.test_accuracy
start = runs.spike_start // runs.every
group = {}
for i, key in enumerate(zip(runs.methods, runs.factors.tolist())):
    group.setdefault(key, []).append(i)
rho = group[("rho", 1e3)] + group[("rho", 1e4)]
clip = group[("clip", 1e3)] + group[("clip", 1e4)]
never_above = runs.loss[start:, rho].amax(0) <= runs.loss[start, rho] * (1 + 1e-9)
print(f"rho_a controller: test accuracy > 0.95 in all 10 runs: {bool((acc[rho] > 0.95).all())}; loss never above "
      f"its spike-start value: {bool(never_above.all())}")
print(f"plain Adam: median test accuracy below 0.6 (x1000): {float(acc[group[('plain', 1e3)]].median()) < 0.6}, "
      f"below 0.3 (x1e4): {float(acc[group[('plain', 1e4)]].median()) < 0.3}")
print(f"clipping: median test accuracy above 0.85 (x1000, x1e4): "
      f"{[float(acc[group[('clip', f)]].median()) > 0.85 for f in (1e3, 1e4)]}; final training loss > 1 in all 10: "
      f"{bool((runs.loss[-1, clip] > 1).all())}")

# %%
print("test accuracy per run (varies across machines: chaotic training):",
      {f"{m} x{f:g}": round(float(a), 2) for m, f, a in zip(runs.methods, runs.factors.tolist(), acc.tolist())})
style = {("plain", 1e3): (plots.COLORS[0], "plain ×1000"), ("plain", 1e4): (plots.COLORS[4], "plain ×10⁴"),
         ("clip", 1e3): (plots.COLORS[3], "clip ‖g‖≤1 ×1000"), ("clip", 1e4): (plots.COLORS[1], "clip ×10⁴"),
         ("rho", 1e3): (plots.COLORS[2], "ρ_a controller ×1000"), ("rho", 1e4): (plots.COLORS[7], "ρ_a ×10⁴")}
fig, axes = plots.subplots(2, width=5.0)
lplots.spike_losses(axes[0, 0], runs, style)
axes[0, 0].set_title("MLP on digits: LR ×1000 / ×10⁴ for steps 50–200")
lplots.spike_r(axes[0, 1], runs, style)
axes[0, 1].set_title("normalized step of Adam's update")
lplots.close(fig)

# %% [markdown]
# Plain Adam collapses: with ×1000 its training loss climbs from about 1.4 to the chance level ln 10 ≈ 2.3 and
# stays there (test accuracy below 0.6 in every run, median about 0.3); with ×10⁴ it first jumps to 10–30 and
# ends at chance (median test accuracy about 0.1). The ρ_a controller never lets the loss rise above its value
# at the spike start and ends above 95 % test accuracy in all 10 runs; it even trains *faster* during the spike.
# Adam's raw update there is tens (×1000) to hundreds (×10⁴) of radii long, so the controller caps every step at
# ρ_a, and the ×1000 and ×10⁴ runs are identical (their loss curves lie on top of each other). Clipping behaves
# differently from Sao's Table 1: our clipped runs keep a median test accuracy above 85 %, but their training loss
# shoots up to 10²–10⁴ and ends above 1 (near 10³ for ×10⁴): the arg-max survives while the loss is ruined.
# That part of Sao's claim is not reproduced here.
#
# ### Temperature (Fig. 9 analogue)
# Dividing the logits by a temperature T rescales the slopes, so a fixed step length τ means very different
# things at different T; Sao's normalized step $r_T = \tau\Delta_a/(\pi T)$ accounts for it. For T from 0.25 to
# 64 we take one step of length τ along the tempered gradient of the trained softmax regression (a fine log grid
# of τ) and record the onset (loss ratio > 1.1) in τ and in $r_T$.

# %%
# NBVAL_CHECK_OUTPUT
temps = studies.temperature_sweep()
print(f"std of log10 onsets in r_T below half of that in tau: {temps.r_spread < 0.5 * temps.tau_spread}; "
      f"spread in tau above 1 decade: {temps.tau_spread > 1}")

# %%
print(f"std of log10 onsets (vary in the last digits across machines): tau {temps.tau_spread:.2f}, "
      f"r_T {temps.r_spread:.2f}")
fig, axes = plots.subplots(1, width=5.5)
lplots.temperature_onsets(axes[0, 0], temps)
axes[0, 0].set_title("one-step onset against temperature")
lplots.close(fig)

# %% [markdown]
# In raw step length the onsets spread over four decades (std 1.5 decades); in $r_T$ they stay within about
# 0.7–19 (std 0.5 decades). The collapse is weaker than Sao's (0.164 vs 0.992) because at high temperature
# (T ≥ 16) our trained model is no longer confident and its onset drifts to $r_T$ well above 1.
#
# ## 7 · Try it: step size and data set
# Pick a 2-D toy, a method and γ (log scale); the left panel shows the decision lines $\theta_t^\top x = 0$
# (darker = later), the right panel loss and accuracy.

# %%
import ipywidgets as widgets

from steplab.plots import widgets as sliders


def explore(dataset="thm41", method="lr_gd", gamma=100.0, steps=20):
    toy = data.toy(dataset, n=20)
    hist = to_host(run_on(toy, [gamma], steps, method))
    fig, axes = plots.subplots(2)
    shown = list(range(1, steps + 1)) if steps <= 30 else list(range(1, steps + 1, steps // 30))
    lplots.toy_boundaries(axes[0, 0], toy, hist.weights[:, 0], steps=shown,
                          title=f"{dataset}, {method}, γ = {gamma:.3g}: {hist.separation_message(0)}")
    axes[0, 1].semilogy(hist.loss[:, 0], color=plots.COLORS[0], label="loss (left, log)")
    axes[0, 1].set_xlabel("iteration t")
    axes[0, 1].set_ylabel("loss (log)")
    twin = axes[0, 1].twinx()
    twin.plot(hist.accuracy[:, 0], color=plots.COLORS[3], label="accuracy (right)")
    twin.set_ylabel("accuracy")
    twin.set_ylim(-0.05, 1.05)
    twin.grid(False)
    plots.legend(axes[0, 1], outside=True, also=[twin])  # one legend for both axes, below them
    plt.show()


widgets.interact(explore, dataset=widgets.Dropdown(options=list(data.TOY_NAMES), value="thm41"),
                 method=widgets.Dropdown(options=["lr_gd", "normalized_lr_gd", "capped_lr_gd", "batch_perceptron",
                                                  "normalized_batch_perceptron", "perceptron"], value="lr_gd"),
                 gamma=sliders.log_slider(100.0, 1e-2, 1e6, "step size γ", factor=10**0.25),
                 steps=sliders.int_slider(20, 2, 400, 1, "steps"));

# %% [markdown]
# ## Summary
# * With a huge step, LR+GD divided by γ **is** the Batch Perceptron (exactly, sign for sign, at γ = 10⁸ on
#   digits 3 vs 8), so it separates separable data in finitely many steps no matter how large γ is.
# * Larger γ separates sooner only up to the Batch Perceptron's own count, where it levels off, while the loss
#   and the gradient norm look terrible: watch the accuracy (or the margins), not the loss. One step can raise the
#   loss from ln 2 to 12.5 and the next one drive it below 10⁻³⁰. The price of large γ is the margin: γ = 10⁴
#   ends at about 1 % of the max-margin, γ = 1 at about 70 %.
# * Normalizing by the misclassified mass (Normalized LR+GD) removes the factor $n$ of the worst case
#   (2 steps instead of 308 at γ = 100), but it does not win everywhere, on balanced or imbalanced data.
# * Wu et al.: after a short oscillating phase the loss decreases monotonically; for moderate η at the rate
#   $1/(\eta t)$, for large η after overshooting to a tiny plateau. A step that grows with the budget
#   (η = 0.1 T) beats a fixed one by orders of magnitude, at least as fast as 1/T².
# * The normalized step r = τ/ρ_a measures how far beyond the loss's Taylor radius a step goes. Capping r ≤ 1
#   removes loss spikes (on logistic regression and through a ×10⁴ learning-rate spike on an MLP), but on
#   separable data it makes GD a normalized GD that flickers in and out of separation before it settles.
#
# ## Exercises
# 1. **Classic Perceptron.** Compare the classic Perceptron (`method="perceptron"`) with the two batch
#    perceptrons on digits 3 vs 8 (`experiments.perceptron_times`) and with the bound $R^2/\mu^2$ of Thm 5.2.
#    How loose is the bound?
# 2. **The worst case in n.** For the Thm 5.1 data with $n \in \{100, 300, 1000, 3000\}$ measure the separation
#    time of Batch Perceptron, LR+GD at γ = 100 and Normalized LR+GD at γ = 10. Which ones grow with n?
# 3. **Thm 6.1.** Compare the measured Normalized LR+GD counts on the worst case with the bound
#    $R^2/\mu^2 + 2\log(2n-1)/(\gamma\mu^2)$ for γ = 0.1, 1, 10, 100.
# 4. **Where does the oscillation start?** On the Wu et al. toy find (by a batched sweep of η between 4 and 10)
#    the smallest η for which the loss is not monotone.
# 5. **Other caps.** Run ρ_a-capped GD on digits 3 vs 8 with `r_max` ∈ {0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 4}
#    (nominal γ = 10⁴). How do the first separation time and the time it *stays* separated depend on the cap,
#    and when do loss spikes come back?
# 6. **Precision.** Does the reduction need float64? From γ·min|m| (min|m| ≈ 5.5·10⁻⁶ on the perceptron path)
#    predict for γ ∈ {10⁴, 10⁶, 10⁸} whether LR+GD must follow the perceptron's signs in exact arithmetic
#    (its step differs from the perceptron's by terms of size $e^{-\gamma|m_i|}$). Then run the reduction in
#    float32 and float64 and compare the first sign mismatch and the separation times.
#
# Solutions: `notebooks/solutions/02_large_step_logistic_solutions.ipynb`.
#
# ## What this notebook verified on your machine

# %%
# NBVAL_CHECK_OUTPUT
claims.table("logistic")
