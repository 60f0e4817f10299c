"""Shared references for the theory claims: independent float64 computations that the
library's exact results are compared with (a plain forward pass, uniform points in a convex
domain by an independent half-plane test)."""

import jax
import numpy as np
import pytest

from toylab import models


def _forward(layers, X, activation):
    """``(pre, post)``: per layer (logits last) pre- and post-activations at ``X (n, d)``,
    float64, by the plain forward pass of :func:`toylab.models.activations`.

    Rows are padded to a power of two (>= 256) so that few distinct shapes are compiled."""
    X = np.asarray(X, np.float64)
    n = len(X)
    padded = np.zeros((max(256, 1 << (n - 1).bit_length()), X.shape[1]))
    padded[:n] = X
    with jax.enable_x64(True):
        out = models.activations([(np.asarray(W), np.asarray(b)) for W, b in layers], padded,
                                 activation)
        return [np.asarray(z)[:n] for z in out.pre], [np.asarray(h)[:n] for h in out.post]


def _points_in(polygon, n, seed):
    """``n`` uniform points of a CCW convex polygon ``(m, 2)`` (rejection from its box)."""
    rng = np.random.default_rng(seed)
    lo, hi = polygon.min(0), polygon.max(0)
    edges = np.roll(polygon, -1, 0) - polygon
    out = np.empty((0, 2))
    while len(out) < n:
        U = rng.uniform(lo, hi, (4 * n, 2))
        rel = U[:, None, :] - polygon[None]
        inside = np.all(edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0] > 0, 1)
        out = np.concatenate([out, U[inside]])
    return out[:n]


@pytest.fixture(scope="session")
def forward64():
    return _forward


@pytest.fixture(scope="session")
def points_in():
    return _points_in
