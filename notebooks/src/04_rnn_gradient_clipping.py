# %% [markdown]
# # 04 · Exploding gradients, the cliff, and gradient clipping in RNNs
#
# **Paper.** R. Pascanu, T. Mikolov, Y. Bengio, *On the difficulty of training recurrent neural networks*,
# ICML 2013 (official code: `pascanur/trainingRNNs`, Python 2 + Theano; `steplab.rnn` ports its semantics).
#
# **The claim.** Back-propagation through time multiplies one Jacobian per step,
# $\partial x_t/\partial x_k = \prod_{i=k+1}^{t} W_{rec}^\top \operatorname{diag}(\sigma'(x_{i-1}))$ (eq. 5).
# If the largest singular value $\lambda_1$ of $W_{rec}$ is below $1/\gamma$ ($\gamma = 1$ for tanh, $1/4$ for
# the sigmoid) the long-term terms **vanish** geometrically; above it they *can* **explode**. Where they explode
# the loss surface has a **wall**: gradient and curvature blow up together, and one gradient step thrown off
# the wall ruins training. The fix is **norm clipping** (Algorithm 1):
#
# $$\hat g \leftarrow \nabla E; \qquad \text{if } \|\hat g\| \ge c:\ \hat g \leftarrow \frac{c}{\|\hat g\|}\,\hat g .$$
#
# We rebuild the one-unit cliff of Fig. 6 from the model and loss of eq. 8 (the paper gives no axis ranges, start
# points or learning rates: ours are our choice), Doya's bifurcation picture (Fig. 3) that explains the wall, the
# effect of clipping on the temporal-order task at a CPU-sized length (T = 20), and a stored corner of the paper's
# success-rate experiment (Fig. 7) with MSGD, MSGD-C and MSGD-CR. The checked numbers below are registered claims
# (`steplab.rnn.claims`), re-checked in the table at the end.

# %% [markdown]
# **How to use this notebook.**
# * Kernel **Python (steplab)** (`make lab` registers it and opens JupyterLab on `notebooks/`); *Run → Run All Cells*
#   takes about 80 s on a laptop CPU, no GPU needed.
# * Every output is stored, so you can read the notebook before running it; a *Try it* cell shows its picture at the
#   sliders' starting values until you run it, then the live sliders.
# * If `import steplab` fails, run `python -m steplab.check_env` in a terminal (`.venv/bin/python -m
#   steplab.check_env` in the repository): it lists what is missing. On Google Colab the next cell installs steplab
#   (README, *Course use*).
# * Worked solutions to the exercises: `notebooks/solutions/04_rnn_gradient_clipping_solutions.ipynb`.

# %% [install]

# %%
import torch

from steplab import claims, plots
from steplab.plots import rnn as rnnplots
from steplab.rnn import experiments as ex
from steplab.device import to_host
from steplab.rnn.cliff import descend, step_lengths, wall_line

plots.use_style()

# %% [markdown]
# ## 1 · Vanishing and exploding: the Jacobian product
# Driven RNNs $x_t = W_{rec}\,\sigma(x_{t-1}) + u_t$ with $W_{rec} = \lambda_1 Q$ ($Q$ orthogonal, so every
# singular value is $\lambda_1$), 50 units, random inputs. Eq. 6–7: $\|\partial x_t/\partial x_0\| \le
# (\lambda_1\gamma)^t$, so $\lambda_1 < 1/\gamma$ forces vanishing. Above $1/\gamma$ the norm *may* grow — the
# condition is necessary, not sufficient: saturation of $\sigma$ pulls $\sigma'$ down.

# %%
vanishing = ex.vanishing_check()
for entry in vanishing.cases:
    ends = ", ".join(f"λ₁={lam:g}: {float(v):.1e}" for lam, v in zip(entry.lambdas, entry.norms[-1]))
    print(f"{entry.activation:8s} ||dx_50/dx_0||  {ends}")

# %% [markdown]
# The exploding norms above differ from machine to machine in their leading digits (2.0e6 on one, 2.7e6 on
# another): a saturating driven RNN above $1/\gamma$ is chaotic and magnifies last-bit differences between CPU
# kernels. What the theory says, and what we check, are the inequalities (an identity check of our code against
# eqs. 6–7, not evidence from the paper's experiments):

# %%
# NBVAL_CHECK_OUTPUT
print(claims.report("rnn.vanishing_bound"))

# %%
fig, axes = plots.subplots(2)
for ax, entry in zip(axes[0], vanishing.cases):
    rnnplots.jacobian_norms(ax, entry.norms, entry.bound, entry.lambdas, entry.activation)
fig.tight_layout()

# %% [markdown]
# ## 2 · Two attractors (Fig. 3) and the cliff (Fig. 6)
# One unit, no input: $x_t = w\,\sigma(x_{t-1}) + b$. Its fixed points solve $b = x^* - w\,\sigma(x^*)$, stable
# where $w\,\sigma'(x^*) < 1$. Since $\sigma' \le 1/4$, two attractors need $w > 4 = 1/\gamma$, and then only for
# $b$ in a window between two saddle-node bifurcations ($w\,\sigma'(x^*) = 1$). Doya's picture (Fig. 3 of the paper,
# $w = 5$): the fixed-point curve, and where iterating from $x = -10$ and from $x = +10$ ends.

# %%
doya = ex.doya_bifurcation(5.0)
fig, axes = plots.subplots(1, width=6.5)
rnnplots.bifurcation(axes[0, 0], doya.x, doya.b_of_x, doya.stable, doya.bifurcations, doya.b, doya.limit_low,
                     doya.limit_high, doya.w)
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
(b_low, _), (b_high, _) = doya.bifurcations
print(f"w = 5: saddle-node points b = {b_low:.4f} and {b_high:.4f} (w σ'(x*) = 1)")
print(f"iterated from x = -10 and +10, the limits differ exactly between them (within 2 grid steps of "
      f"{doya.spacing:.0e}): {abs(doya.measured_window[0] - b_low) <= 2 * doya.spacing and abs(doya.measured_window[1] - b_high) <= 2 * doya.spacing}")

# %% [markdown]
# The figure shows the two stable branches (solid) and the unstable middle branch (dashed) over the shaded window;
# outside it the two starts reach the same attractor. Crossing the unstable branch — the basin boundary — is the
# paper's local event behind an explosion.
#
# **The cliff.** Now $x_0 = 0.5$, 50 steps, loss $E_{50} = (\sigma(x_{50}) - 0.7)^2$, over $(w, b)$. The **wall** is
# where the basin boundary passes through $x_0$: $x_0 = 0.5$ must be a fixed point, $b = 0.5 - w\,\sigma(0.5)$
# (dashed), *and* unstable, $w\,\sigma'(0.5) > 1$, i.e. $w > 1/\sigma'(0.5) = 4.2553$ (our derivation, not in the
# paper; for $4 < w < 4.2553$, $x_0$ is a stable fixed point on that line and there is no wall). The **valley** of
# zero loss is $b = \ln(7/3) - 0.7\,w$ (dotted). Gradients are computed exactly by forward-mode recursion over a
# 400 × 650 grid in one tensor program; both panels use a log colour scale.

# %%
grid = ex.cliff_grid()
fig, axes = plots.subplots(2, width=5.6)
rnnplots.cliff_figure(fig, axes[0], grid.w, grid.b, grid.loss, grid.grad_norm, grid.wall, grid.valley)
fig.tight_layout()

# %% [markdown]
# The wall is razor-thin: the peak gradient grows like $(w\,\sigma'(0.5))^{50} = (0.235\,w)^{50}$, so an even
# grid misses it for $w \gtrsim 5.5$. We measure on 2001 values of $b$ centred on the wall, and for the peaks we
# zoom four times onto the largest value (at $w = 5.5$ the wall is about $10^{-6}$ wide).

# %%
# NBVAL_CHECK_OUTPUT
profile = ex.wall_profile(5.0)
b_wall = float(wall_line(torch.tensor(5.0, dtype=torch.float64)))
print(f"w = 5: wall at b = {b_wall:.5f}; over b_wall ± 0.01: max ||∇E|| = {profile.max:.3g}, "
      f"median = {profile.median:.2f}")
print(f"E just below the wall = {profile.loss_left:.3f}, just above = {profile.loss_right:.3f}; "
      f"max/median > 1e4: {profile.max / profile.median > 1e4}")
peaks = ex.max_grad_norm_over_b((3.0, 4.2, 4.5, 5.0, 5.5))
print(f"no wall below w = 4.2553: max_b ||∇E|| < 2 at w = 3: {peaks.at(3.0) < 2};  < 100 at w = 4.2: {peaks.at(4.2) < 100}")
print(f"zoomed peaks rise with w (4.5 < 5 < 5.5): {peaks.at(4.5) < peaks.at(5.0) < peaks.at(5.5)};  "
      f"peak at w = 5.5 > 1e5: {peaks.at(5.5) > 1e5}")

# %% [markdown]
# The zoomed peaks themselves (their last digits depend on where the zoom lands, so this cell is not checked); the
# 2001-point wall-centred grid alone would report 5.5e4 at $w = 5.5$, a lower bound:

# %%
for w, peak in zip(peaks.ws, peaks.peaks):
    print(f"w = {w}: max_b ||∇E|| ≈ {peak:.2g}   (0.235 w)^50 = {(0.2350 * w) ** 50:.2g}")

# %% [markdown]
# ## 3 · Unclipped vs clipped descent from three starts
# Plain gradient descent (300 steps) from $(5, -2.3)$ at lr 1 and $(4.8, -2.4)$, $(5.5, -2.7)$ at lr 0.5, and the
# same with clipping at $c = 1$. Each unclipped run first *does well* — it slides to low loss along the wall — then
# touches the wall and one step of length 5–10 throws it onto the plateau where $\sigma(x_{50}) \to 1$, $E = 0.09$
# and $\nabla E \approx 0$: it never comes back. Clipped runs take steps of at most $\mathrm{lr}\cdot c$.

# %%
# NBVAL_CHECK_OUTPUT
plain = ex.three_starts(clip_threshold=None)
clipped = ex.three_starts(clip_threshold=1.0)
for r, (start, lr) in enumerate(zip(ex.THREE_STARTS, ex.THREE_STARTS_LRS)):
    w_end, b_end = plain.final[r].tolist()
    print(f"start {start}, lr {lr}: unclipped E_min before the jump {float(plain.min_loss_before_jump[r]):.1e}, "
          f"jump of length {float(plain.largest_step[r]):.2f} at step {int(plain.jump_step[r])} "
          f"-> (w, b) = ({w_end:.1f}, {b_end:.1f}), final E = {float(plain.final_loss[r]):.4f}")
    print(f"{'':27s}clipped final E = {float(clipped.final_loss[r]):.1e} at "
          f"(w, b) = ({clipped.final[r, 0]:.2f}, {clipped.final[r, 1]:.2f})")

# %%
fig, axes = plots.subplots(3, width=4.8)
window = ex.cliff_grid((3.0, 10.0), (-3.5, 7.0), 300, 400)
rnnplots.surface(axes[0, 0], window.w, window.b, window.loss, "unclipped GD", "E")
rnnplots.lines(axes[0, 0], window.w, window.wall, window.valley, legend=False)
rnnplots.paths(axes[0, 0], plain.trajectory, [f"start {s}" for s in ex.THREE_STARTS])
rnnplots.surface(axes[0, 1], window.w, window.b, window.loss, "clipped GD (c = 1)", "E")
rnnplots.lines(axes[0, 1], window.w, window.wall, window.valley, legend=False)
rnnplots.paths(axes[0, 1], clipped.trajectory, None, style="--")
for ax in axes[0, :2]:
    ax.set_xlim(3, 10)
    ax.set_ylim(-3.5, 7)
both = torch.cat([plain.trajectory.loss, clipped.trajectory.loss], dim=1)
same_runs = dict(colors=plots.COLORS[:3] * 2, linestyles=["-"] * 3 + ["--"] * 3)  # each start keeps its path's colour
run_labels = [f"GD {s}" for s in ex.THREE_STARTS] + [f"clipped {s}" for s in ex.THREE_STARTS]
plots.curves(axes[0, 2], both, labels=run_labels, ylabel="$E_{50}$", outside=True, **same_runs)
axes[0, 2].set_title("loss (log scale)")
fig.tight_layout()

# %%
fig, axes = plots.subplots(1, width=6)
lengths = torch.cat([step_lengths(plain.trajectory), step_lengths(clipped.trajectory)], dim=1)
plots.curves(axes[0, 0], lengths, labels=run_labels, ylabel="step length ‖θ_{t+1} − θ_t‖", outside=True, **same_runs)
axes[0, 0].set_title("one step of length 5–10 at the wall; clipped steps ≤ lr·c")

# %% [markdown]
# **One step from the steepest point.** At $w = 5$, from the steepest of the 2001 wall-centred points, at lr 0.1.
# Note that the unclipped step does not *raise* the loss here: the harm is that it strands the run on a flat plateau.

# %%
# NBVAL_CHECK_OUTPUT
step = ex.one_step_from_steepest()
u, c = step.unclipped, step.clipped
print(f"unclipped: step length {u.first_step:.0f}, E {u.loss0:.3f} -> {u.loss1:.4f}, "
      f"||∇E|| after = {u.grad1:.1e}, E after 300 steps = {u.final_loss:.4f}")
print(f"clipped:   step length {c.first_step:.3f}, E {c.loss0:.3f} -> {c.loss1:.3f}, "
      f"E after 300 steps = {c.final_loss:.1e}")

# %% [markdown]
# ## 4 · Many starts: clipping turns a coin flip into a sure thing
# 400 starts just on the low-loss side of the wall, $w_0 \sim U(4.5, 6)$, $b_0 = b_{wall}(w_0) + U(0.05, 0.5)$,
# 300 steps at lr 0.5, every start clipped with **its own** gradient norm (one run per start; a single clip
# over all starts, or a mean loss, would be a different algorithm). Success means $E < 10^{-3}$.

# %%
many = ex.many_starts_success()
print(f"clipped success   = {many.clipped:.3f}")
print(f"unclipped success = {many.unclipped:.3f}; stuck at E > 0.05: {many.unclipped_stuck:.3f}")

# %% [markdown]
# The unclipped fraction moves by a start or two between machines (0.410 on one, 0.412 on another): a start that
# grazes the wall takes a step of length ~$10^3$ whose landing point depends on the last bits. The checked
# statement is the band:

# %%
# NBVAL_CHECK_OUTPUT
print(claims.report("rnn.many_starts"))

# %%
starts = ex.random_wall_starts(400, 0)
runs = {name: to_host(descend(starts, 0.5, c, 300, record_every=None)) for name, c in (("unclipped", None), ("clipped", 1.0))}
fig, axes = plots.subplots(2, width=5)
for ax, (name, traj) in zip(axes[0], runs.items()):
    ok = (traj.loss[-1] < 1e-3).numpy()
    ax.scatter(starts[ok, 0], starts[ok, 1], s=6, color=plots.COLORS[2], label="E < 1e-3")
    ax.scatter(starts[~ok, 0], starts[~ok, 1], s=6, color=plots.COLORS[1], label="failed")
    w_line = torch.linspace(4.5, 6, 50, dtype=torch.float64)
    ax.plot(w_line, wall_line(w_line), "k--", lw=1, label="wall")
    ax.set_xlabel("start w₀")
    ax.set_ylabel("start b₀")
    ax.set_title(f"{name}: success {float((traj.loss[-1] < 1e-3).double().mean()):.2f}")
    plots.legend(ax, outside=True)
fig.tight_layout()

# %% [markdown]
# ## 5 · Temporal order at T = 20: MSGD vs MSGD-C
# The task (Hochreiter & Schmidhuber 1997): a sequence of 6 one-hot symbols; two markers A/B appear at
# $[0.1T, 0.2T)$ and $[0.5T, 0.6T)$ among distractors; the class (AA, AB, BA, BB) must be read from the last
# state. Setting (a CPU-sized version of §4.1 of the paper): vanilla tanh RNN in the official code's form
# $h_t = \tanh(h_{t-1}W_{rec} + u_tW_{in} + b)$, "basic tanh" initialisation ($\mathcal N(0, 0.1^2)$), 50 units,
# minibatch 20, **lr 0.1** without momentum, **10 seeds**, at most 2000 iterations, evaluated every 250 iterations
# on 1000 fresh sequences; success = under 1% wrong. All 20 runs (10 seeds × with/without clipping at $c = 1$) are
# one batched training call; a clipped and an unclipped run with the same seed share initialisation and data.

# MSGD runs have no NaN guard: in the official code the guard (a non-finite or > 1e10 norm replaces the step by
# $0.02\,W_{rec}$) sits inside the clipping branch, and so it does here; only the clipped runs have it.

# %%
comparison = ex.temporal_order_comparison()
for r in range(len(comparison.seeds)):
    print(comparison.summary(r))
print(f"largest pre-clip gradient norm: {float(comparison.grad_norm.nan_to_num(0).max()):.0f}; "
      f"median {float(comparison.grad_norm.nanmedian()):.2f}")

# %% [markdown]
# *Which* seeds succeed, the iteration at which they do and the size of the largest spike all change between
# machines: unclipped training is chaotic, so a last-bit difference between CPU kernels (AVX2 or AVX-512) grows
# until it decides the run. Counts over ten seeds, against bands with a margin, do not change:

# %%
# NBVAL_CHECK_OUTPUT
print(claims.report("rnn.temporal_order"))

# %%
fig, axes = plots.subplots(2, width=6)
rnnplots.grad_norms(axes[0, 0], comparison, by_method=True)
axes[0, 0].axhline(1.0, color="black", lw=0.8, ls="--")
axes[0, 0].set_title("gradient norms before clipping (dashed: c = 1)")
rnnplots.eval_errors(axes[0, 1], comparison, by_method=True)
axes[0, 1].set_title("temporal order, T = 20")
fig.tight_layout()

# %% [markdown]
# The left panel shows the unclipped runs' norms spiking far above $c = 1$; the right panel the errors on fresh
# sequences (log scale), unsolved runs staying near chance (75% wrong). On the cliff of §2 a spike was followed by
# a worse loss; here we measure the same signature (not the crossing of a basin boundary itself, which we did not
# locate in 2,800 dimensions): the mean minibatch loss over the 10 iterations after each MSGD run's largest spike
# against the 10 before. The claim printed above checks it (its last line: in at least 7 of 10 MSGD runs the loss
# is higher after the largest spike). (Which seeds succeed is chaotic, so we compare counts, never single seeds.)
#
# **The Ω regularizer** (eq. 10, the squared-norm form the code uses) asks the back-propagated error to keep its
# norm from step to step:
# $\Omega = \sum_k \big(\|\tfrac{\partial E}{\partial x_{k+1}}\tfrac{\partial x_{k+1}}{\partial x_k}\|^2 /
# \|\tfrac{\partial E}{\partial x_{k+1}}\|^2 - 1\big)^2$, averaged over steps as in the code, differentiated only
# through $W_{rec}$. Eq. 9 writes the same ratio with plain norms. An identity check of our code (not evidence from
# the paper): for a linear RNN with $W_{rec} = sQ$ every squared ratio is $s^2$, so eq. 10 gives $(s^2-1)^2$ = 0,
# 0.5625, 9 (eq. 9 would give 0, 0.25, 1).

# %%
# NBVAL_CHECK_OUTPUT
for s, value in zip((1.0, 0.5, 2.0), ex.omega_on_scaled_orthogonal((1.0, 0.5, 2.0)).tolist()):
    print(f"W_rec = {s} Q: Omega = {value:.4f}   (theory (s²-1)² = {(s * s - 1) ** 2:.4f})")

# %% [markdown]
# ## 6 · Choosing the threshold
# The paper's rule of thumb (§3.2): look at the average gradient norm over many updates; "values from half to ten
# times this average can still yield convergence, though convergence speed can be affected". We measure the
# average unclipped norm over the first 200 updates, then train with $c$ = ½×, 1× and 10× that value (10 seeds
# each, one batched call of 30 runs).

# %%
sweep = ex.threshold_sweep()
print(f"average pre-clip norm over the first 200 updates: {sweep.average_norm:.2f}")
for m, c, n in zip(sweep.multiples, sweep.thresholds, sweep.solved_counts):
    print(f"c = {m:g}× average = {c:.2f}: solved {n}/10 seeds within 2000 iterations")

# %% [markdown]
# The average (about 1.2) and the 10× count vary a little by machine, for the reason given in §5. The checked
# counts:

# %%
# NBVAL_CHECK_OUTPUT
print(claims.report("rnn.threshold_rule"))
print(claims.report("rnn.threshold_ten_times"))

# %%
fig, axes = plots.subplots(1)
rnnplots.threshold_bars(axes[0, 0], sweep.multiples, sweep.thresholds, sweep.solved_counts, sweep.solved.shape[1])
axes[0, 0].set_title("clipping threshold sweep, temporal order T = 20");

# %% [markdown]
# How often each threshold actually clips (the fraction of recorded updates with $\|g\| > c$; varies by machine):

# %%
for m, c, k in zip(sweep.multiples, sweep.thresholds, range(len(sweep.multiples))):
    per = sweep.solved.shape[1]
    norms = sweep.result.grad_norm[:, k * per:(k + 1) * per]
    print(f"c = {m:g}×: clipped in {float((norms > c).sum() / norms.isfinite().sum()):.0%} of updates")

# %% [markdown]
# At 10× the threshold hardly ever clips (the share printed above), so these runs are essentially MSGD: with
# 2000 iterations (and in a 4000-iteration check we ran, 1–4 of 10 seeds depending on the machine) the upper end
# of the paper's range is **not reproduced here**, and the claims table says so instead of ticking it.
#
# ## 7 · Success rate against length: MSGD, MSGD-C, MSGD-CR (Fig. 7, a corner of it)
# The paper trains 5 seeds per length, from $T$ = 50 up, for up to 5M updates at lr 0.01. Ours, stored in
# `lib/steplab/rnn/success_rates.json` by `python -m steplab.rnn.success_rates` (its settings and seeds are in the
# file; about 4 minutes on a 2-core CPU, one batched training call per task and length), covers temporal order at
# $T$ = 10, 20, 40 and addition at $T$ = 10, 20: 5 seeds (0–4), basic tanh, lr 0.1, at most 2000 iterations, clip
# $c = 1$, Ω weight α = 2 (the code's default; the ICML text uses 4). This notebook loads the file; a test re-trains
# the $T = 10$ temporal-order cell and checks it against the stored counts (± 1 seed). Addition counts an answer wrong
# when its *squared* error exceeds 0.04 (|error| > 0.2, the official code's rule), looser than Hochreiter &
# Schmidhuber's 0.04 on the absolute error.

# %%
# NBVAL_CHECK_OUTPUT
grid = ex.stored_success_rates()
for task in grid.document["grid"]:
    for method in ("MSGD", "MSGD-C", "MSGD-CR"):
        counts = ", ".join(f"T={t}: {grid.count(task, t, method)}/5" for t in grid.lengths(task))
        print(f"{task:15s} {method:8s} {counts}")

# %%
fig, axes = plots.subplots(2, width=4.8)
for ax, task in zip(axes[0], grid.document["grid"]):
    rnnplots.success_rates(ax, grid.lengths(task), {m: grid.rates(task, m) for m in ("MSGD", "MSGD-C", "MSGD-CR")},
                           task, len(grid.seeds))
fig.tight_layout()

# %% [markdown]
# On temporal order every method solves $T = 10$; at $T = 20$ clipping is what makes lr 0.1 work (MSGD 1/5,
# MSGD-C 5/5); at $T = 40$ only MSGD-CR solves any seeds (3/5): Ω is what reaches further, the paper's ordering
# (claim `rnn.success_rates`). Addition is **not reproduced here**: within 2000 iterations one MSGD-CR seed solves
# $T = 10$ and nothing solves $T = 20$, where the paper's MSGD-CR solves addition up to $T = 200$ with up to 5M updates.
#
# **Length generalisation** (the paper: one model trained on lengths 50–200 made no errors up to $T = 5000$). Every
# run solved above was also tested at $2T$ and $5T$:

# %%
# NBVAL_CHECK_OUTPUT
for k in (2, 5):
    errors = [e for _, _, e in grid.generalisation("temporal_order", k)]
    print(f"temporal order, {len(errors)} solved runs, at {k}T: lowest error {min(errors):.2f}, "
          f"all above 30%: {min(errors) > 0.3}")

# %% [markdown]
# Not reproduced here: trained at one fixed length, our networks do not generalise — the lowest error at $2T$ is
# about half the sequences wrong (chance is 75%). The paper trained on a mix of lengths (50–200), which we did not.
#
# **Table 1** (polyphonic music and Penn Treebank, test/train NLL and bits per character) is **not reproduced**:
# it needs the four data sets (not shipped with steplab) and days of training of large RNNs, out of reach of a
# 3-minute CPU notebook.
#
# **The vanishing side** (the dashboard's RNN page draws it): after 100 clipped iterations at $T = 50$, the
# back-propagated error $\|\partial E/\partial h_k\|$ against the distance $T - k$, without and with Ω:

# %%
vanish = ex.vanishing_view()
fig, axes = plots.subplots(1, width=6)
rnnplots.vanishing_norms(axes[0, 0], vanish.distance, vanish.norms)
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
for init in ("basic_tanh", "smart_tanh"):
    c, r = (vanish.norms[(init, m)] for m in ("MSGD-C", "MSGD-CR"))
    print(f"{init}: ||dE/dh_k|| at T-k = 49 over its value at k = T: MSGD-C < 1/20: {float(c[-1] / c[0]) < 0.05};  "
          f"MSGD-CR > 1/10: {float(r[-1] / r[0]) > 0.1}")

# %% [markdown]
# Without Ω both tanh networks' errors fall more than 20-fold over 50 steps; with Ω they stay within a factor 10
# of their start. The sigmoid network's error vanishes either way (it leaves the plot, below $10^{-21}$, within
# about a dozen steps; Ω cannot rescue it in 100 iterations). For the tanh networks Ω does what eq. 10 asks of it.
#
# ## 8 · Try it: your own start, step size and threshold on the cliff
# Drag the start point and the learning rate; the unclipped (solid) and clipped (dashed) paths are recomputed
# (300 steps, a few milliseconds). Try a start just above the wall with lr 0.5 and lower the threshold.

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt

from steplab.plots import widgets as sliders

small = ex.cliff_grid((3.0, 10.0), (-3.5, 7.0), 200, 200)


def show(w0=5.0, b0=-2.3, lr=0.5, clip_threshold=1.0, steps=300):
    start = torch.tensor([[w0, b0]], dtype=torch.float64)
    runs = to_host([descend(start, lr, None, steps), descend(start, lr, clip_threshold, steps)])
    fig, axes = plots.subplots(2, width=5)
    rnnplots.surface(axes[0, 0], small.w, small.b, small.loss, "paths on E₅₀", "E")
    rnnplots.lines(axes[0, 0], small.w, small.wall, small.valley, legend=False)
    rnnplots.paths(axes[0, 0], runs[0], ["unclipped"])
    rnnplots.paths(axes[0, 0], runs[1], [f"clipped c = {clip_threshold:g}"], color_offset=1, style="--")
    axes[0, 0].set_xlim(3, 10)
    axes[0, 0].set_ylim(-3.5, 7)
    plots.legend(axes[0, 0])
    norms = torch.cat([runs[0].grad_norm, runs[1].grad_norm], dim=1)
    plots.curves(axes[0, 1], norms, labels=[f"unclipped, final E = {float(runs[0].loss[-1, 0]):.1e}",
                                            f"clipped, final E = {float(runs[1].loss[-1, 0]):.1e}"],
                 ylabel="‖∇E‖ before clipping")
    fig.tight_layout()
    plt.show()


widgets.interact(show, w0=sliders.slider(5.0, 3.0, 8.0, 0.05, "start w₀"),
                 b0=sliders.slider(-2.3, -4.0, 2.0, 0.01, "start b₀"),
                 lr=sliders.log_slider(0.5, 0.01, 10**0.5, "learning rate"),
                 clip_threshold=sliders.log_slider(1.0, 0.01, 100.0, "clip threshold c"),
                 steps=sliders.int_slider(300, 10, 1000, 10, "steps"));

# %% [markdown]
# ## Summary
# * Long-term gradients vanish when $\lambda_1 < 1/\gamma$ (measured ≤ $(\lambda_1\gamma)^t$); above it they can explode.
# * In the one-unit RNN the explosion is a **wall** on the basin boundary $b = 0.5 - w\sigma(0.5)$, for
#   $w > 1/\sigma'(0.5) = 4.2553$: at $w = 5$ its peak gradient is over $10^4$ times the median over $b_{wall} \pm 0.01$,
#   and it grows like $(0.235w)^{50}$. It exists because the map has two attractors for $b$ in a window (Fig. 3).
# * Plain GD slides along the wall, then one huge step throws it onto a flat plateau ($E = 0.09$) for good;
#   norm clipping bounds the step to lr·c and reaches $E < 10^{-3}$ — from essentially every start, versus ≈ 40%.
# * On temporal order at T = 20 with a large learning rate, clipping is what makes training work; thresholds of
#   ½× and 1× the average gradient norm work; at 10× it rarely clips and the paper's "up to ten times" is not
#   reproduced here.
# * Ω keeps the back-propagated error's norm from vanishing, and in our stored grid only MSGD-CR solves temporal
#   order at T = 40. Addition, length generalisation and Table 1 are not reproduced here.
#
# ## Exercises
# 1. **Where is the wall?** Show that $x = 0.5$ is a fixed point of $x \mapsto w\sigma(x) + b$ exactly on
#    $b = 0.5 - w\sigma(0.5)$, and that it is unstable iff $w\sigma'(0.5) > 1$, i.e. $w > 4.2553$. Compare the
#    gradient peaks `ex.peak_grad_norm(w)` for w = 4.2, 4.5, 5 and 6 with $(0.235w)^{50}$.
# 2. **Per-start clipping matters.** Rerun the 400 starts of §4 with one global clip over all starts (clip the
#    stacked $[400 \times 2]$ gradient as one vector) and with the mean instead of the sum of the losses. What happens
#    to the success rate, and why?
# 3. **Element-wise clipping.** Mikolov's earlier variant clips each coordinate to $[-c, c]$
#    (`steplab.transforms.clip_coordinatewise`). Repeat §4 with it. Do "both variants behave similarly" here?
# 4. **Smaller learning rate.** Train temporal order at lr 0.03 with and without clipping (10 seeds). Is clipping
#    still necessary?
# 5. **Ω at work.** Train MSGD-CR (`omega_weights=2.0`) for 750 iterations and plot the recorded Ω. Does it fall?
#    Compare its cost per iteration with MSGD-C.
#
# Solutions: `notebooks/solutions/04_rnn_gradient_clipping_solutions.ipynb`.
#
# ## What this notebook verified on your machine

# %%
# NBVAL_CHECK_OUTPUT
claims.table("rnn")
