"""The examples under examples/ run, small, and say what they claim."""

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from toylab import data, models

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def own_nnx_model():
    return load("own_nnx_model").main(["--hidden", "6", "--steps", "150", "--points", "256"])


def test_own_nnx_model_is_read_trained_and_analysed(own_nnx_model):
    r = own_nnx_model
    assert r["widths"] == [2, 6, 6, 3] and r["activation"] == "relu"
    assert r["loss_last"] < 0.5 * r["loss_first"]
    P = models.n_params(r["widths"])
    assert r["hessian_shape"] == (P, P) and r["regions"] >= 1
    assert r["population_accuracy"] <= r["bayes_accuracy"] + r["population_accuracy_bound"] + 1e-12


def test_own_nnx_model_population_accuracy_matches_a_large_fresh_sample(own_nnx_model):
    """Independent check of the exact population accuracy p: the Monte Carlo accuracy on 40,000
    fresh points is within 5 binomial standard errors sqrt(p (1 - p) / n) of it."""
    r = own_nnx_model
    fresh = data.make("blobs").sample(12345, 40_000)
    predicted = np.argmax(np.asarray(r["model"](jnp.asarray(fresh.X, jnp.float32))), -1)
    monte_carlo = float(np.mean(predicted == fresh.y))
    p = r["population_accuracy"]
    se = np.sqrt(p * (1 - p) / len(fresh.y))
    assert abs(monte_carlo - p) <= 5 * se + r["population_accuracy_bound"] + 1 / len(fresh.y)
