"""Bad input to the landscape, symbolic and landscape-compare entry points: one row per case,
each a clear ValueError/TypeError naming the argument, the value and the fix (issue 11).

Every row failed on the code before its fix: ZeroDivisionError or silent zeros (one-output
cross-entropy), sympy's "The argument 'nan' is not comparable", max_bytes=nan silently turning
the memory guard off, "0.00 GiB > max_bytes=0.00 GiB", "cannot convert float NaN to integer",
an ArpackError for tol=nan, numpy matmul shape errors, NaN shares with a RuntimeWarning,
AttributeError / IndexError for a net or a flat box in place of a partition or a box."""

import numpy as np
import pytest

import toylab.compare as C
import toylab.landscape as L
import toylab.symbolic as S
from toylab import data
from toylab.exact import partition

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


# ----------------------------------------------------------------------------- arguments

NET = _layers((2, 4, 2))
Y2 = np.random.default_rng(2).integers(0, 2, 8)
P = 22


def _partition():
    return partition(NET, data.curved().domain, activation="relu")


FLAT_3D = data.GaussianMixture(np.zeros((2, 3)), 1.0)

ARGUMENT_ROWS = {
    # name: (call, exception, message pattern); every pattern names the argument and the fix
    "max_bytes=nan": (lambda: L.hessian(NET, X, Y2, activation="relu", max_bytes=np.nan),
                      ValueError, r"max_bytes=nan must be a positive number.*float\('inf'\)"),
    "max_bytes=0 readable": (lambda: L.hessian(NET, X, Y2, activation="relu", max_bytes=1),
                             ValueError, r"needs about [\d.]+ KiB > max_bytes=1 \(1 B\)"),
    "chunk=True": (lambda: L.hessian(NET, X, Y2, activation="relu", chunk=True),
                   ValueError, r"chunk=True must be an integer >= 1"),
    "k=nan": (lambda: L.top_eigen(NET, X, Y2, np.nan, activation="relu"),
              ValueError, r"k=nan must be an integer with 1 <= k"),
    "tol=nan": (lambda: L.top_eigen(NET, X, Y2, 2, activation="relu", tol=np.nan),
                ValueError, r"tol=nan must be a finite number >= 0"),
    "n_steps=nan": (lambda: L.spectral_density(NET, X, Y2, activation="relu", n_steps=np.nan),
                    ValueError, r"n_steps=nan must be an integer >= 1"),
    "n_samples=nan": (lambda: L.population_loss(NET, None, activation="relu", n_samples=np.nan),
                      ValueError, r"n_samples=nan must be an integer >= 2"),
    "rescaling layer='a'": (lambda: L.rescaling_direction(NET, "a", 0),
                            ValueError, r"layer='a' must be an integer >= 0"),
    "neuron_shares wrong P": (lambda: L.neuron_shares(np.ones((5, 1)), (2, 4, 2)),
                              ValueError,
                              r"V has shape \(5, 1\); a \(2, 4, 2\) net needs .*\(22, k\)"),
    "neuron_shares zero column": (lambda: L.neuron_shares(np.zeros((P, 1)), (2, 4, 2)),
                                  ValueError, r"V has zero columns \[0\]"),
    "first_order_change of a net": (lambda: C.first_order_change(NET, np.ones(P)),
                                     TypeError, r"p is a list; pass the exact partition"),
    "first_order_change 3-D dist": (
        lambda: C.first_order_change(_partition(), np.ones(P), dist=FLAT_3D),
        ValueError, r"3-D inputs.*2-D mixture"),
    "loss_slice NaN grid": (lambda: L.loss_slice(NET, X, Y2, np.ones(P), [np.array([np.nan, 1.0])],
                                                 activation="relu"),
                            ValueError, r"grids needs 1 non-empty 1-D arrays of finite"),
    "trajectory of two architectures": (lambda: L.trajectory_pca([NET, _layers((2, 3, 2))]),
                                        ValueError, r"snapshots mix architectures"),
    "random_direction seed=nan": (lambda: L.random_direction(NET, seed=np.nan),
                                  ValueError, r"seed=nan must be an integer >= 0"),
    "captured_fraction of zero": (lambda: L.captured_fraction(np.zeros(P), np.eye(P)[:, :2]),
                                  ValueError, r"V has shape \(22,\); pass finite non-zero"),
    "clip_to_box flat box": (lambda: C.clip_to_box(np.zeros((1, 2, 2)), np.zeros((1, 2)),
                                                            [0, 1]),
                             ValueError,
                             r"box=\[0.0, 1.0\] must be \[\[xlo, xhi\], \[ylo, yhi\]\]"),
}


@pytest.mark.parametrize("case", sorted(ARGUMENT_ROWS))
def test_bad_arguments_name_the_argument_and_the_fix(case):
    call, error, pattern = ARGUMENT_ROWS[case]
    with pytest.raises(error, match=pattern):
        call()


def test_an_infinite_max_bytes_turns_the_guard_off():
    assert L.hessian(NET, X, Y2, activation="relu", max_bytes=np.inf).shape == (P, P)
