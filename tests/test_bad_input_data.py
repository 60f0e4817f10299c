"""Bad input to toylab.data: each row raises ValueError whose message names the argument, the
bad value and the fix (issue 11's "unclear messages": NaN X, seed -1; the rest were already
clear and stay so)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from toylab.data import GaussianMixture, make

TWO = [[0.0, 0.0], [1.0, 1.0]]
XOR = make("xor")

# (needles that must all appear in the message, call)
ROWS = [
    # densities: NaN X (was scipy's "array must not contain infs or NaNs")
    (("X[1, 0]", "nan", "finite"), lambda: XOR.log_density([[0.0, 0.0], [np.nan, 1.0]])),
    (("X[0, 1]", "inf", "finite"), lambda: XOR.class_posterior([[0.0, np.inf]])),
    (("X", "(4, 3)", "reshape"), lambda: XOR.log_density(np.zeros((4, 3)))),
    # sampling: seed -1 (was NumPy's "expected non-negative integer")
    (("seed=-1", "non-negative", "seed=1"), lambda: XOR.sample(-1, 10)),
    (("seed=1.5", "non-negative integer"), lambda: XOR.sample(1.5, 10)),
    (("n=0", "positive integer", "number of samples"), lambda: XOR.sample(0, 0)),
    (("n=-3", "positive integer"), lambda: XOR.sample(0, -3)),
    # construction
    (("means", "(2,)", "[[m0]"), lambda: GaussianMixture([0.0, 1.0], 1.0)),
    (("means[0, 1]", "nan", "finite"), lambda: GaussianMixture([[0.0, np.nan]], 1.0)),
    (("covs", "(3, 3)"), lambda: GaussianMixture(TWO, np.ones((3, 3)))),
    (("covs", "ambiguous", "broadcast_to"), lambda: GaussianMixture(TWO, np.eye(2))),
    (("covs[1]", "positive"), lambda: GaussianMixture(TWO, [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])),
    (("covs[1]", "singular", "ridge"), lambda: GaussianMixture(TWO, [np.eye(2), [[1.0, 1.0], [1.0, 1.0]]])),
    (("covs", "symmetric", "(S + S.T) / 2"), lambda: GaussianMixture([[0.0, 0.0]], [[1.0, 0.5], [0.0, 1.0]])),
    (("covs", "positive"), lambda: GaussianMixture([[0.0, 0.0]], -1.0)),
    (("weights", "-0.2", ">= 0"), lambda: GaussianMixture(TWO, 1.0, weights=[1.2, -0.2])),
    (("weights", "0.9", "weights / weights.sum()"), lambda: GaussianMixture(TWO, 1.0, weights=[0.5, 0.4])),
    (("weights", "(3,)"), lambda: GaussianMixture(TWO, 1.0, weights=[0.2, 0.3, 0.5])),
    (("labels", "(3,)"), lambda: GaussianMixture(TWO, 1.0, labels=[0, 1, 2])),
    (("labels", "skips classes [1]"), lambda: GaussianMixture(TWO, 1.0, labels=[0, 2])),
    (("labels", "integers"), lambda: GaussianMixture(TWO, 1.0, labels=[0.0, 1.0])),
    # presets
    (("spiral", "four_corners", "xor"), lambda: make("spiral")),
    (("std=-1.0", "positive"), lambda: make("blobs", std=-1.0)),
    (("k=1", ">= 2"), lambda: make("blobs", k=1)),
    (("separation=0.0", "positive"), lambda: make("xor", separation=0.0)),
    (("dim=1", ">= 2"), lambda: make("curved", dim=1)),
    (("labelling='diagonal'", "halves", "xor"), lambda: make("four_corners", labelling="diagonal")),
    # Bayes quantities and boxes
    (("i=5", "0..1"), lambda: XOR.bayes_boundary(5, 1)),
    (("j=-1",), lambda: XOR.bayes_boundary(0, -1)),
    (("i=j",), lambda: XOR.bayes_boundary(1, 1)),
    (("symbols", "d=2"), lambda: XOR.bayes_boundary(symbols=sympy.symbols("a b c"))),
    (("class 1 has prior 0", "[0, 2]"), lambda: GaussianMixture(
        [[0.0], [1.0], [2.0]], 1.0, weights=[0.5, 0.0, 0.5]).bayes_boundary(0, 1)),
    (("box", "lo < hi"), lambda: XOR.mass_outside([[1.0, -1.0], [0.0, 1.0]])),
    (("mass_outside=0.0", "(0, 1)"), lambda: XOR.covering_box(0.0)),
    (("d=3", "2-D slice", "Monte Carlo"), lambda: make("xor", dim=3).bayes_error()),
    # transforms
    (("offset", "(3,)", "(2,)"), lambda: XOR.shifted([1.0, 2.0, 3.0])),
    (("offset[1]", "nan"), lambda: XOR.shifted([1.0, np.nan])),
    (("rotation", "angle", "(3, 3) rotation matrix"), lambda: make("xor", dim=3).rotated(30.0)),
    (("rotation", "not a rotation", "det"), lambda: XOR.rotated([[1.0, 0.0], [0.0, -1.0]])),
    (("rotation", "not a rotation"), lambda: XOR.rotated([[1.0, 0.1], [0.0, 1.0]])),
    (("rotation", "(3, 3)", "(2, 2)"), lambda: XOR.rotated(np.eye(3))),
    (("rotation=nan", "finite"), lambda: XOR.rotated(np.nan)),
    (("center", "(1,)"), lambda: XOR.rotated(10.0, center=[0.0])),
    (("means", "(2,)", "(J, 2)"), lambda: XOR.tilted([0.0, 0.0], 1.0)),
    (("covs", "positive"), lambda: XOR.tilted([[0.0, 0.0]], -1.0)),
    (("weights", "sum to"), lambda: XOR.tilted([[0.0, 0.0], [1.0, 1.0]], 1.0, weights=[0.5, 0.6])),
    (("starves classes [1]", "widen"), lambda: GaussianMixture([[0.0], [60.0]], 1.0).tilted([[-60.0]], 1e-2)),
    (("labels", "skips classes"), lambda: XOR.relabelled([0, 0, 2, 2])),
]


@pytest.mark.parametrize("needles, call", ROWS, ids=[f"{i}-{n[0]}" for i, (n, _) in enumerate(ROWS)])
def test_bad_input_names_argument_value_and_fix(needles, call):
    with pytest.raises(ValueError) as info:
        call()
    missing = [n for n in needles if n not in str(info.value)]
    assert not missing, f"{missing} not in: {info.value}"


def test_empty_point_sets_give_empty_results():
    """``n = 0`` points is valid input to the densities (empty in, empty out, right shapes)."""
    X = np.zeros((0, 2))
    assert XOR.log_density(X).shape == (0,)
    assert XOR.class_posterior(X).shape == (0, 2)
    assert XOR.bayes_predict(X).shape == (0,)
