"""Projected gradient descent (Dom-GD / Bulk-GD): against a NumPy loop with numpy.linalg.eigh
of a dense jax Hessian, and the identities the projections must satisfy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toylab import data
from toylab.landscape.projected import PROJECTIONS, projected_gd
from toylab.models import apply, flatten, unflatten

WIDTHS = (2, 4, 4, 3)


@pytest.fixture(scope="module")
def problem():
    s = data.make("overlapping_blobs", k=3).sample(0, 64)
    rng = np.random.default_rng(0)
    net = [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * 0.3)
           for a, b in zip(WIDTHS[:-1], WIDTHS[1:])]
    return net, s.X, s.y


def _reference(net, X, y, lr, steps, k, every, projection):
    """Plain NumPy loop: dense jax Hessian and gradient, numpy eigh, one step at a time."""
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)

        def loss(t):
            z = apply(unflatten(t, WIDTHS), Xj, "relu")
            return jnp.mean(jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, yj[:, None], 1)[:, 0])

        hess, grad = jax.jit(jax.hessian(loss)), jax.jit(jax.value_and_grad(loss))
        theta, losses = np.asarray(flatten(net), np.float64), []
        for step in range(steps):
            if step % every == 0:
                V = np.linalg.eigh(np.asarray(hess(jnp.asarray(theta))))[1][:, ::-1][:, :k]
            value, g = grad(jnp.asarray(theta))
            g = np.asarray(g)
            inside = V @ (V.T @ g)
            update = {"none": g, "dominant": inside, "bulk": g - inside}[projection]
            losses.append(float(value))
            theta = theta - lr * update
        losses.append(float(loss(jnp.asarray(theta))))
    return theta, np.array(losses)


@pytest.mark.parametrize("projection", [
    name if name != "bulk" else pytest.param(name, marks=pytest.mark.slow)  # ~8 s each
    for name in PROJECTIONS])
def test_matches_a_dense_numpy_loop(problem, projection):
    net, X, y = problem
    run = projected_gd(net, X, y, activation="relu", learning_rate=0.2, steps=12, k=3, every=4,
                       projection=projection)
    theta, losses = _reference(net, X, y, 0.2, 12, 3, 4, projection)
    np.testing.assert_allclose(run.theta, theta, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(run.loss, losses, rtol=1e-9)
    assert run.checkpoints.shape == (4, theta.size) and run.top_eigenvalues.shape == (3, 3)
    assert np.all(run.eigen_seconds > 0)


def test_dominant_and_bulk_updates_add_up_to_gd_for_one_step(problem):
    """With one step, the two projected updates sum to the plain GD update."""
    net, X, y = problem
    runs = {p: projected_gd(net, X, y, activation="relu", learning_rate=0.1, steps=1, k=2,
                            every=1, projection=p).theta for p in PROJECTIONS}
    start = flatten(net)
    np.testing.assert_allclose(runs["dominant"] - start + runs["bulk"] - start,
                               runs["none"] - start, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"projection": "top"}, "projection='top'"),
    ({"steps": 10, "every": 3}, "multiple of every=3"),
    ({"learning_rate": -0.1}, "learning_rate=-0.1"),
    ({"every": 0}, "every=0"),
])
def test_bad_arguments_are_named(problem, kwargs, match):
    net, X, y = problem
    args = dict(learning_rate=0.1, steps=4, k=2, every=2, projection="none") | kwargs
    with pytest.raises(ValueError, match=match):
        projected_gd(net, X, y, activation="relu", **args)
