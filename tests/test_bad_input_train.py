"""Bad input to training and sweeps (issue 11): one row per case, each a silent wrong answer,
a raw traceback or an unclear message before, now an error naming the argument, the value
and the fix (or, for one-output float targets, the regression they are)."""

import dataclasses
import math

import numpy as np
import pytest

from toylab import data
from toylab.sweep import run_sweep
from toylab.train import TrainConfig, train_ensemble

TINY = TrainConfig(widths=(2, 3, 2), steps=4, snapshot_every=4, optimizer="sgd",
                   learning_rate=0.1)


@pytest.fixture(scope="module")
def sample():
    s = data.two_gaussians().sample(0, 24)
    return s.X, s.y


@pytest.mark.parametrize(
    "seeds, error, message",
    [
        ([0, 2**32], ValueError, r"seeds\[1\]=4294967296 is outside \[0, 2\*\*32\).*seed 0"),
        ([-1], ValueError, r"seeds\[0\]=-1 is outside"),
        ([0, 1.5], TypeError, r"seeds\[1\]=1.5 is not an int"),
        (np.array([0.0, 1.0]), TypeError, r"seeds\[0\]=0.0 is not an int"),
        ([True], TypeError, r"seeds\[0\]=True is not an int"),
        ([3, 1, 3], ValueError, r"seed 3 at positions \[0, 2\]"),
        (-1, ValueError, r"seeds=-1 as a count must be in \[1, 2\*\*32\]"),
        (0, ValueError, r"seeds=0 as a count"),
        (2.0, TypeError, r"seeds=2.0 must be a count \(int\)"),
        ([[0, 1]], ValueError, r"non-empty 1-d list"),
    ],
)
@pytest.mark.parametrize("entry", ["train_ensemble", "run_sweep"])
def test_seeds_that_are_not_distinct_32_bit_ints_are_rejected(sample, entry, seeds, error,
                                                              message):
    run = {"train_ensemble": lambda: train_ensemble(*sample, seeds, config=TINY),
           "run_sweep": lambda: run_sweep(TINY, *sample, seeds)}[entry]
    with pytest.raises(error, match=message):
        run()


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("steps", 4.0, TypeError),
        ("steps", True, TypeError),
        ("batch_size", 8.0, TypeError),
        ("snapshot_every", 2.0, TypeError),
        ("learning_rate", math.nan, ValueError),
        ("learning_rate", math.inf, ValueError),
        ("momentum", math.nan, ValueError),
        ("momentum", 1.5, ValueError),
        ("weight_decay", math.inf, ValueError),
        ("weight_decay", "0.1", TypeError),
        ("bias_std", -1.0, ValueError),
        ("init_scale", 0.0, ValueError),
        ("init_scale", math.nan, ValueError),
    ],
)
def test_config_rejects_wrong_types_and_non_finite_values(field, value, error):
    with pytest.raises(error, match=f"{field}={value!r}"):
        dataclasses.replace(TINY, **{field: value})


def test_a_rejected_float_steps_leaves_later_valid_calls_working(sample):
    """A float ``steps`` used to reach XLA (shape error) and leave its broken program in the
    compiled-program cache under a key equal to the valid one (``4.0 == 4``)."""
    with pytest.raises(TypeError, match=r"steps=4.0 must be an int"):
        dataclasses.replace(TINY, steps=4.0)
    run = train_ensemble(*sample, 2, config=TINY)
    assert run.loss.shape == (2, 4) and np.all(np.isfinite(run.loss))


def test_one_output_mse_on_float_targets_of_shape_n_is_regression():
    """``y (n,)`` float with ``loss="mse"`` and one output: the regression targets they are
    (before: read as one-hot labels, i.e. all-zero targets). Same as ``y (n, 1)``."""
    X = np.linspace(-1, 1, 32)[:, None]
    config = TrainConfig(widths=(1, 1), steps=200, snapshot_every=200, loss="mse",
                         activation="linear", learning_rate=0.1)
    flat = train_ensemble(X, 2.0 * X[:, 0] + 1.0, 1, config=config)
    np.testing.assert_allclose(flat.member(0)[0][0], [[2.0]], atol=1e-3)
    np.testing.assert_allclose(flat.member(0)[0][1], [1.0], atol=1e-3)
    column = train_ensemble(X, 2.0 * X + 1.0, 1, config=config)
    np.testing.assert_array_equal(flat.loss, column.loss)


@pytest.mark.parametrize(
    "make, error, message",
    [
        # float targets (n,) for a 2-output mse net: ambiguous, used to train on zeros
        (lambda X, y: (X, y.astype(float)), ValueError,
         r"y has shape \(24,\) of float targets but widths=\(2, 3, 2\) has 2 outputs"),
        (lambda X, y: (X[:0], y[:0]), ValueError, r"no training points \(n = 0\)"),
        (lambda X, y: (np.where(np.arange(24)[:, None] == 5, np.nan, X), y), ValueError,
         r"X has a non-finite value nan at index \(5, 0\)"),
        (lambda X, y: (X, np.where(np.arange(24) == 3, np.inf, y.astype(float))[:, None]
                       * np.ones(2)), ValueError, r"y has a non-finite target inf"),
        (lambda X, y: (X.astype(str), y), TypeError, r"X has dtype <U"),
    ],
)
def test_bad_training_data_is_named(sample, make, error, message):
    config = dataclasses.replace(TINY, loss="mse")
    X, y = make(*sample)
    with pytest.raises(error, match=message):
        train_ensemble(X, y, 1, config=config)
    with pytest.raises(error, match=r"configs\[0\].*" + message):
        run_sweep(config, X, y, 1)


@pytest.mark.parametrize(
    "max_bytes, error, message",
    [
        (math.nan, ValueError, r"max_bytes=nan must be a finite positive number of bytes"),
        (math.inf, ValueError, r"max_bytes=inf must be a finite positive number"),
        ("4GB", TypeError, r"max_bytes='4GB' must be a number of bytes"),
        (1000, ValueError, r"max_bytes=1000 B is too small: .* need about [\d.]+ KiB"),
    ],
)
def test_memory_limit_is_checked_and_small_sizes_are_readable(sample, max_bytes, error,
                                                             message):
    with pytest.raises(error, match=message):
        run_sweep(TINY, *sample, 2, max_bytes=max_bytes)
