"""Bad input to the landscape, symbolic and landscape-compare entry points: one row per case,
each a clear ValueError/TypeError naming the argument, the value and the fix (issue 11).

Every row failed on the code before its fix (ZeroDivisionError, sympy's "The argument 'nan' is
not comparable", ...)."""

import numpy as np
import pytest

import toylab.landscape as L
import toylab.symbolic as S

WIDTHS_ONE_OUTPUT = (2, 3, 1)


def _layers(widths, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(widths[:-1], widths[1:])]


def _with_nan(widths, value=np.nan):
    layers = _layers(widths)
    layers[0][0][1, 2] = value
    return layers


X = np.random.default_rng(1).normal(size=(8, 2))
Y0 = np.zeros(8, int)

ONE_OUTPUT_CROSS_ENTROPY = {
    name: fn for name, fn in {
        "hessian": lambda: L.hessian(_layers(WIDTHS_ONE_OUTPUT), X, Y0, activation="relu"),
        **{f"curvature_matrix[{c}]": (lambda c=c: L.curvature_matrix(
            _layers(WIDTHS_ONE_OUTPUT), X, Y0, curvature=c, activation="relu"))
           for c in L.CURVATURES},
        "gauss_newton_split": lambda: L.gauss_newton_split(_layers(WIDTHS_ONE_OUTPUT), X, Y0,
                                                           activation="relu"),
        "gradient": lambda: L.gradient(_layers(WIDTHS_ONE_OUTPUT), X, Y0, activation="relu"),
    }.items()
}

SYMBOLIC = {
    "neuron_expressions": lambda net: S.neuron_expressions(net, activation="relu"),
    "neuron_expression": lambda net: S.neuron_expression(net, (1, 0), activation="relu"),
    "lambdify_neuron": lambda net: S.lambdify_neuron(net, (0, 0), activation="relu"),
}


@pytest.mark.parametrize("case", sorted(ONE_OUTPUT_CROSS_ENTROPY))
def test_one_output_cross_entropy_is_rejected_with_the_fix(case):
    """Softmax over one logit is 1: the loss is identically 0 and so is every curvature (it
    used to end in a ZeroDivisionError inside the blocks method)."""
    with pytest.raises(ValueError, match=r"loss='cross_entropy'.*1 output.*widths\[-1\] >= 2"
                                         r".*loss='mse'"):
        ONE_OUTPUT_CROSS_ENTROPY[case]()


def test_one_output_mse_still_works():
    H = L.hessian(_layers(WIDTHS_ONE_OUTPUT), X, np.ones((8, 1)), activation="relu", loss="mse")
    assert H.shape == (13, 13) and np.all(np.isfinite(H))


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("entry", sorted(SYMBOLIC))
def test_symbolic_rejects_non_finite_weights_naming_layer_and_neuron(entry, value):
    with pytest.raises(ValueError, match=r"non-finite weight values in layer 0 \(first: neuron "
                                         r"2, value (nan|inf)\); pass finite weights"):
        SYMBOLIC[entry](_with_nan((2, 3, 2), value))
