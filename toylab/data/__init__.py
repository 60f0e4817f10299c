"""Analytic data distributions: Gaussian mixtures with exact densities and Bayes quantities.

Modules (the bottom stage of toylab: nothing here imports another toylab package):

* :mod:`toylab.data.mixture`: :class:`GaussianMixture` (densities, sampling, boxes, moments,
  exact transforms: :meth:`~GaussianMixture.shifted`, :meth:`~GaussianMixture.rotated`,
  the posterior-preserving :meth:`~GaussianMixture.tilted` and
  :meth:`~GaussianMixture.relabelled`) and :class:`Sample`;
* :mod:`toylab.data.bayes`: the Bayes error with a bound (closed forms, quadrature);
* :mod:`toylab.data.quadrature`: the line-by-line quadrature behind it;
* :mod:`toylab.data.boundary`: the Bayes boundary as a sympy expression;
* :mod:`toylab.data.presets`: the preset worlds :data:`DISTRIBUTIONS` and :func:`make`;
* :mod:`toylab.data.checks`: argument checks.

Everything is NumPy float64; no JAX here.
"""

from toylab.data.bayes import BayesError
from toylab.data.checks import SINGULAR_RTOL, WEIGHT_SUM_TOL
from toylab.data.mixture import DOMAIN_MASS_OUTSIDE, GaussianMixture, Moments, Sample
from toylab.data.presets import (
    CORNER_LABELLINGS,
    DISTRIBUTIONS,
    blobs,
    curved,
    four_corners,
    make,
    overlapping_blobs,
    two_gaussians,
    xor,
)
from toylab.data.quadrature import MAX_GRID_POINTS, QUADRATURE_MASS_OUTSIDE

__all__ = [
    "BayesError", "CORNER_LABELLINGS", "DISTRIBUTIONS", "DOMAIN_MASS_OUTSIDE", "GaussianMixture",
    "MAX_GRID_POINTS", "Moments", "QUADRATURE_MASS_OUTSIDE", "SINGULAR_RTOL", "Sample",
    "WEIGHT_SUM_TOL", "blobs", "curved", "four_corners", "make", "overlapping_blobs",
    "two_gaussians", "xor",
]
