# %% [markdown]
# # 02 · Large-step gradient descent on separable logistic regression
#
# **Papers.** K. Tyurin, *From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent
# with Large Step Sizes*, AAAI 2025 (arXiv 2412.08424) ·
# J. Wu, P. Bartlett, M. Telgarsky, B. Yu, *Large Stepsize Gradient Descent for Logistic Loss*, COLT 2024 ·
# P. Sao, *Ghosts of Softmax: Complex Singularities That Limit Safe Step Sizes in Cross-Entropy*, 2026.
#
# **The claim.** On linearly separable data, gradient descent on the logistic loss
# $f(\theta) = \frac1n\sum_i \log(1+e^{-y_i a_i^\top\theta})$ with a *huge* constant step $\gamma$ is not
# broken: as $\gamma\to\infty$ the iterates $\theta_t/\gamma$ follow the **Batch Perceptron**, which separates
# the data in finitely many steps. Large steps separate *sooner* while the loss looks *worse* — so the loss is
# an unreliable progress measure (Tyurin). With a moderate large step, GD oscillates for a while and then
# converges at rate $\tilde O(1/(\eta t))$ (Wu et al.). The convergence radius $\rho_a$ of the loss along the
# step direction says when a step leaves the region where Taylor models are valid (Sao).
#
# Everything below is computed by `steplab.logistic` in float64 (exact separation times need it); every
# number printed here is a registered claim, re-checked in `tests/test_logistic.py` and in the table at the end.

# %%
import math

import matplotlib.pyplot as plt
import torch

from steplab import claims, plots
from steplab.logistic import data, experiments, metrics, run_on, theory
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
axes[0, 1].legend()
lplots.close(fig)

# %% [markdown]
# ## 2 · The reduction: LR+GD / γ → Batch Perceptron (Thm 3.2)
# Digits 3 vs 8 from sklearn (357 images, 64 pixels scaled to [0, 1], no bias). Batch Perceptron
# separates them at $t = 86$. For each γ we run LR+GD (all γ in one batched call) and measure
# $\max_t\|\theta_t/\gamma - \hat\theta_t\|$ and the first $t$ where the sign pattern $1[m_i>0]$ differs.
# The smallest $|m_i|$ along the perceptron path is about $5\cdot10^{-6}$, so agreement of every sign needs
# $\gamma\cdot 5\cdot10^{-6}\gg 1$: at $\gamma = 10^8$ all 86 sign patterns agree.

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
axes[0, 1].legend(fontsize=7)
lplots.close(fig)

# %% [markdown]
# Small distances at moderate γ are not monotone in γ: once one sign differs the paths branch and may meet
# again later. Only when γ times the smallest margin is huge do the paths coincide to machine precision.
#
# ## 3 · The loss is an unreliable progress measure (Tyurin, Figs. 1–4)
# LR+GD on digits 3 vs 8 for γ from $10^{-3}$ to $10^4$ (one batched run, 3000 steps), with Batch Perceptron.
# Larger γ reach accuracy 1 sooner — but their loss at $t = 10$ is orders of magnitude *higher*, and the
# gradient norm stays large and chaotic until separation.

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
axes[0, 1].set_title("digits 3 vs 8: larger γ separates sooner …")
axes[0, 0].set_title("… while its loss is higher")
lplots.close(fig)

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
print("  LR+GD           ", [int(v) for v in imb.lr_gd])
print("  Normalized LR+GD", [int(v) for v in imb.normalized])

# %%
fig, axes = plots.subplots(2, width=5.0)
lplots.separation_bars(axes[0, 0], t1, "Thm 5.1 worst case, n = 1000")
lplots.separation_bars(axes[0, 1], imb, "imbalanced digits 3 vs 8 (n = 200)")
lplots.close(fig)

# %% [markdown]
# **Said honestly:** the normalized method wins clearly on the worst case and for small γ on the imbalanced
# digits, but at γ = 10 and 100 plain LR+GD separates the imbalanced digits *sooner* (36 and 19 vs 50 and 43).
# Tyurin's own Table 1 is mixed in the same way (plain LR+GD wins on balanced FashionMNIST). (LR+GD at
# γ ≤ 1 does not separate the worst case within 1000 steps: no bar.)
#
# ## 5 · Wu et al.: an oscillating phase, then Õ(1/(ηt))
# The 4-point toy $x_1 = (1, 0.2), x_2 = (-2, 0.2)$ with $y = +1$; $x_3 = (-1,-0.2), x_4 = (2,-0.2)$ with
# $y = -1$. Its max-margin direction is $e_2$ with margin 0.2, while the large first coordinates make
# the loss non-monotone for large η. GD for η ∈ {0.1, 1, 4, 10, 30, 100}, $T = 10^4$, one batched run.

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
axes[0, 1].legend(fontsize=7)
lplots.close(fig)

# %% [markdown]
# For η ≤ 4 the loss decreases monotonically; for η ≥ 10 it increases 9 times, all within the first 14 steps,
# and from then on decreases monotonically with $\eta L(T)\approx 2.5\cdot10^{-3}$ — the $1/(\eta t)$ rate of
# the stable phase. The oscillation length does not grow with η here (12–14 steps): the γ → ∞ limit is a
# finite perceptron run, so Wu et al.'s $O(\eta)$ phase length is an upper bound. The direction converges to
# the max-margin one slowly (Soudry et al. 2018), and is still 3.5° away at η = 100.
#
# ## 6 · Ghosts of softmax: the normalized step r
# Along a unit direction $v$, the logit of sample $i$ moves at speed $a_i^\top v$ (one Jacobian–vector
# product), and the loss as a function of the step length $\tau$ has complex singularities at distance
# $\sqrt{m_i^2+\pi^2}/|a_i^\top v|$. The batch radius is $\rho_a = \pi/\max_i|a_i^\top v|$ and the normalized
# step is $r = \tau/\rho_a$; for GD, $r_t = \gamma\max_i|a_i^\top\nabla f(\theta_t)|/\pi$.
# **ρ_a-capped GD** shortens every step to at most $\rho_a$ ($r_t\le1$), with a huge nominal γ.

# %%
# NBVAL_CHECK_OUTPUT
cap = experiments.capped_vs_plain()
print(f"plain LR+GD, gamma = 100: r_t up to {cap.plain_r_max:.0f} (median {cap.plain_r_median:.2f} before "
      f"separation), loss up to {cap.plain_loss_max:.0f}, separated at t = {int(cap.plain.separated_at[0])}")
print(f"rho_a-capped GD, gamma = 1e4: separated at t = {int(cap.capped.separated_at[0])}, max loss "
      f"{float(cap.capped.loss[:, 0].max()):.4f} (ln 2 = {math.log(2):.4f}), {cap.capped_increases} small increases")

# %%
fig, axes = plots.subplots(2)
lplots.r_traces(axes[0, 0], cap)
axes[0, 0].set_title("digits 3 vs 8: normalized step")
lplots.loss_traces(axes[0, 1], cap)
axes[0, 1].set_title("no loss spikes with the cap")
lplots.close(fig)

# %% [markdown]
# Plain γ = 100 takes steps hundreds of radii long: no Taylor model is valid there, yet the data get
# separated — this is Tyurin's perceptron regime. The capped method keeps $r_t\le1$, never rises above
# its initial loss $\ln 2$ by more than tiny amounts, and separates in 40 steps instead of 83.
#
# ### One step of length rρ_a on 10-class softmax regression
# Softmax regression with bias on all ten digits (1257 train / 540 test), trained by Adam (lr 0.05,
# 2000 steps). From the trained weights we take **one** step of length $r\rho_a$ along $-\nabla f$ and
# along 3 random directions (ρ_a from one batched JVP of the logits, $\Delta_a = \max_k a_k - \min_k a_k$).

# %%
# NBVAL_CHECK_OUTPUT
trained = experiments.trained_softmax()
sweep = experiments.one_step_r_sweep()
print(f"trained: train loss {trained.train_loss:.1e}, test accuracy {trained.test_accuracy:.3f}")
print("r            :", "  ".join(f"{float(r):>7g}" for r in sweep.r_values))
for k in range(sweep.loss_ratio.shape[0]):
    name = "-grad f     " if k == 0 else f"random dir {k}"
    print(name, ":", "  ".join(f"{float(v):7.3g}" for v in sweep.loss_ratio[k]))

# %%
fig, axes = plots.subplots(2)
lplots.r_sweep(axes[0, 0], sweep)
axes[0, 0].set_title("one step: loss ratio")
lplots.r_sweep(axes[0, 1], sweep, "accuracy_kept")
axes[0, 1].set_title("one step: test accuracy kept")
lplots.close(fig)

# %% [markdown]
# For $r\le1$ the step along $-\nabla f$ decreases the loss and no random direction raises it by more than
# 2.5×; by $r = 10$ even the gradient step multiplies the loss by about 11. The transition is not sharp at
# $r = 1$ (Sao places the onsets in $r\in[1,10]$, because confident margins give slack); that is why we assert
# nothing at $r = 1$ itself.
#
# ## 7 · Try it: step size and data set
# Pick a 2-D toy, a method and γ (log scale); the left panel shows the decision lines $\theta_t^\top x = 0$
# (darker = later), the right panel loss and accuracy.

# %%
import ipywidgets as widgets


def explore(dataset="thm41", method="lr_gd", log10_gamma=2.0, steps=20):
    toy = data.toy(dataset, n=20)
    gamma = 10.0**log10_gamma
    hist = run_on(toy, [gamma], steps, method)
    fig, axes = plots.subplots(2)
    shown = list(range(1, steps + 1)) if steps <= 30 else list(range(1, steps + 1, steps // 30))
    lplots.toy_boundaries(axes[0, 0], toy, hist.weights[:, 0], steps=shown,
                          title=f"{dataset}, {method}, γ = {gamma:.3g}: {hist.separation_message(0)}")
    axes[0, 1].semilogy(hist.loss[:, 0], label="loss")
    axes[0, 1].set_xlabel("iteration t")
    axes[0, 1].set_ylabel("loss (log)")
    twin = axes[0, 1].twinx()
    twin.plot(hist.accuracy[:, 0], color="C1", label="accuracy")
    twin.set_ylabel("accuracy")
    twin.set_ylim(-0.05, 1.05)
    plt.show()


widgets.interact(explore, dataset=widgets.Dropdown(options=list(data.TOY_NAMES), value="thm41"),
                 method=widgets.Dropdown(options=["lr_gd", "normalized_lr_gd", "capped_lr_gd", "batch_perceptron",
                                                  "normalized_batch_perceptron", "perceptron"], value="lr_gd"),
                 log10_gamma=widgets.FloatSlider(value=2.0, min=-2, max=6, step=0.25, description="log10 γ"),
                 steps=widgets.IntSlider(value=20, min=2, max=400));

# %% [markdown]
# ## Summary
# * With a huge step, LR+GD divided by γ **is** the Batch Perceptron (exactly, sign for sign, at γ = 10⁸ on
#   digits 3 vs 8), so it separates separable data in finitely many steps no matter how large γ is.
# * Large γ separates sooner while the loss and the gradient norm look terrible: watch the accuracy (or the
#   margins), not the loss. One step can raise the loss from ln 2 to 12.5 and the next one drive it below 10⁻³⁰.
# * Normalizing by the misclassified mass (Normalized LR+GD) removes the factor $n$ of the worst case
#   (2 steps instead of 308 at γ = 100), but it does not win everywhere.
# * With moderate large steps (Wu et al.) GD oscillates for a short phase and then converges at 1/(ηt);
#   the direction drifts slowly toward the max-margin solution.
# * The normalized step r = τ/ρ_a measures how far beyond the loss's Taylor radius a step goes; capping r ≤ 1
#   removes the loss spikes and here even separates faster.
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
# 5. **Other caps.** Run ρ_a-capped GD on digits 3 vs 8 with `r_max` ∈ {0.25, 0.5, 1, 2, 4} (nominal γ = 10⁴).
#    How does the separation time depend on the cap, and when do loss spikes come back?
# 6. **Precision.** Why does the reduction at γ = 10⁸ need float64? Estimate γ·min|m| and the relative
#    precision of float32, and predict at which γ float32 starts to mis-classify a sign.
#
# Solutions: `notebooks/solutions/02_large_step_logistic_solutions.ipynb`.
#
# ## What this notebook verified on your machine

# %%
# NBVAL_CHECK_OUTPUT
print(claims.table("logistic"))
