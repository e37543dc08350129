"""The tour's claims: each calls ``steplab.tour.experiments`` and checks it with ``steplab.claims`` helpers."""

from __future__ import annotations

import torch

from steplab.claims import Check, Result, between, close, combine, register, within
from steplab.divergence import loss_growth
from steplab.tour.experiments import EIGENVALUES, gd, gd_rate_table, momentum

# GD at eta = 0.4 contracts x_1 by |1 - 0.4 * 0.2| = 0.92 per step: f(x_100) ~ 0.1 * 25 * 0.92^200 = 1.4e-7
CONVERGED_GD = 1e-6
# heavy ball (0.6, 0.5) contracts by sqrt(0.5) per step: f(x_100) ~ 0.5^100 = 8e-31 times a polynomial factor
# (our regression value: 1.2e-29)
CONVERGED_HB = 1e-12
# GD at 0.55: measured loss growth over steps 25-50 vs (1 - eta L)^2 = 1.44; the decaying x_1 term leaves a 6e-9
# difference (our regression value); eta = 0.5502 would already miss by 1e-3
GROWTH_TOLERANCE = 1e-3
RATE_TOLERANCE = 1e-6  # measured vs closed-form rate: the difference is round-off (our regression value 4.8e-15)


@register(
    "tour.gd_diverges",
    paper="d2l Sec. 12.6 (Zhang et al. 2023); Polyak 1964",
    source="momentum.md: 0.1x1^2 + 2x2^2",
    statement="On 0.1x1^2+2x2^2, GD converges at eta=0.4, diverges at eta=0.6 > 2/L and at 0.55 (its loss grows by "
              "(1-eta L)^2 = 1.44 per step, below the cut-off after 50 steps); heavy ball (0.6, 0.5) converges",
)
def _claim_gd_diverges() -> Result:
    gd_runs = gd(torch.tensor([0.4, 0.6], dtype=torch.float64), steps=100)
    near_edge = gd(0.55, steps=50)  # notebook 00's slider: |1 - 0.55 L| = 1.2, f_50 ~ 7e8 < 1e12
    growth = loss_growth(near_edge.loss)
    hb = momentum(0.6, 0.5, steps=100)
    return combine(
        between("GD 0.4: f(x_100)", float(gd_runs.loss[-1, 0]), high=CONVERGED_GD, show_value=False),
        Check("GD 0.6 diverges", f"GD 0.6: {gd_runs.divergence_message(1)}", bool(gd_runs.diverged[1])),
        Check("GD 0.55 diverging", f"GD 0.55: {growth.message(0) or 'not diverging'}", bool(growth.diverging[0])),
        close("GD 0.55: loss growth per step", float(growth.factor[0]), (1 - 0.55 * max(EIGENVALUES)) ** 2,
              GROWTH_TOLERANCE),
        between("HB: f(x_100)", float(hb.loss[-1, 0]), high=CONVERGED_HB, show_value=False),
    )


@register(
    "tour.gd_rate",
    paper="Polyak 1964; Goh 2017",
    source="linear rate of GD on a quadratic",
    statement="GD's measured contraction per step equals max_i |1 - eta lambda_i| for every eta < 2/L",
)
def _claim_gd_rate() -> Result:
    table = gd_rate_table()
    error = float((table.measured - table.theory).abs().max())
    return combine(Check(f"max|measured - max|1-eta*lambda|| <= {RATE_TOLERANCE:.0e}",
                         f"max error {within(error, RATE_TOLERANCE)}", error <= RATE_TOLERANCE))
