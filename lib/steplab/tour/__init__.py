"""The library tour (notebook 00): GD vs heavy ball on an ill-conditioned 2-D quadratic.

f(x) = 0.1 x_1^2 + 2 x_2^2, eigenvalues 0.2 and 4 (d2l Sec. 12.6 "Momentum", Zhang et al. 2023; Goh 2017).
GD converges iff eta < 2/L = 0.5; heavy ball at (eta, beta) = (0.6, 0.5) converges at rate sqrt(beta).

The family template in small: ``experiments`` runs things and returns dataclasses; ``claims`` only
registers checks that call them (importing this package registers them).
"""

from steplab.tour import claims  # noqa: F401  (registers the tour's claims)
from steplab.tour.experiments import (
    EIGENVALUES,
    START,
    Landscape,
    RateTable,
    clipped_gd,
    gd,
    gd_rate_table,
    landscape,
    momentum,
    starts,
    tour_problem,
)

__all__ = ["EIGENVALUES", "START", "Landscape", "RateTable", "clipped_gd", "gd", "gd_rate_table", "landscape",
           "momentum", "starts", "tour_problem"]
