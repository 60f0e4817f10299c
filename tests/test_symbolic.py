"""toylab.symbolic: exact sympy neuron expressions against the float64 forward pass."""

from fractions import Fraction

import jax
import numpy as np
import pytest
import sympy
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab import symbolic
from toylab.models import ACTIVATIONS, MLP, activations


def _random_net(seed: int, widths, zero_fraction: float, duplicate: bool):
    """Gaussian weights; a fraction of weights and biases zeroed (dead / degenerate
    neurons); optionally hidden neuron 1 of layer 0 duplicates neuron 0 (coincident
    hyperplanes)."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        W = rng.normal(size=(n_in, n_out)) * (rng.random((n_in, n_out)) >= zero_fraction)
        b = rng.normal(size=n_out) * (rng.random(n_out) >= zero_fraction)
        layers.append((W, b))
    if duplicate and widths[1] > 1 and len(widths) > 2:
        W, b = layers[0]
        W[:, 1], b[1] = W[:, 0], b[0]
    return layers


nets = st.builds(
    lambda seed, d, hidden, out, zero_fraction, duplicate: (
        _random_net(seed, (d, *hidden, out), zero_fraction, duplicate)
    ),
    seed=st.integers(0, 2**32 - 1),
    d=st.sampled_from([1, 2, 3]),
    hidden=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    out=st.integers(1, 3),
    zero_fraction=st.sampled_from([0.0, 0.5, 1.0]),
    duplicate=st.booleans(),
)


def _forward(layers, X, activation):
    with jax.enable_x64(True):
        return [np.asarray(p) for p in activations(layers, X, activation).post]


def _assert_close_to_forward(got, want):
    """float64 agreement to 1e-12 relative to the neuron's scale (summation order differs)."""
    scale = 1.0 + np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@settings(max_examples=6, deadline=None)
@given(layers=nets, point_seed=st.integers(0, 2**32 - 1))
def test_every_neuron_matches_forward_pass(activation, layers, point_seed):
    d = layers[0][0].shape[0]
    X = np.random.default_rng(point_seed).normal(scale=3.0, size=(64, d))
    want = _forward(layers, X, activation)
    exprs = symbolic.neuron_expressions(layers, activation=activation)
    assert [len(row) for row in exprs] == [W.shape[1] for W, _ in layers]
    xs = symbolic.input_symbols(d)
    for l, row in enumerate(exprs):
        assert all(e.free_symbols <= set(xs) for e in row)
        for i, expr in enumerate(row):
            got = symbolic.lambdify_expression(expr, xs)(X)
            _assert_close_to_forward(got, want[l][:, i])


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_lambdify_neuron_matches_forward_pass_on_deeper_net(activation):
    layers = _random_net(7, (2, 5, 4, 3), 0.0, False)
    X = np.random.default_rng(1).normal(scale=2.0, size=(5, 7, 2))  # any leading shape
    want = _forward(layers, X, activation)
    for neuron in [(0, 2), (1, 3), (2, 0), (-1, 2)]:
        got = symbolic.lambdify_neuron(layers, neuron, activation=activation)(X)
        assert got.shape == X.shape[:-1]
        _assert_close_to_forward(got, want[neuron[0]][..., neuron[1]])


def _fraction_relu_forward(layers, x):
    """Exact rational forward pass of a ReLU net with Python Fractions (independent of sympy)."""
    h = [Fraction(v) for v in x]
    for depth, (W, b) in enumerate(layers):
        z = [sum((Fraction(float(W[i, j])) * h[i] for i in range(len(h))), Fraction(float(b[j])))
             for j in range(W.shape[1])]
        h = z if depth == len(layers) - 1 else [max(Fraction(0), v) for v in z]
    return h


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), px=st.fractions(-5, 5, max_denominator=97),
       py=st.fractions(-5, 5, max_denominator=97))
def test_rational_expressions_are_exact(seed, px, py):
    layers = _random_net(seed, (2, 3, 2, 2), 0.3, False)
    xs = symbolic.input_symbols(2)
    exprs = symbolic.neuron_expressions(layers, activation="relu", rational=True)
    point = {xs[0]: sympy.Rational(px.numerator, px.denominator),
             xs[1]: sympy.Rational(py.numerator, py.denominator)}
    want = _fraction_relu_forward(layers, [px, py])
    for i, expr in enumerate(exprs[-1]):
        value = expr.subs(point)
        assert value.is_Rational
        assert Fraction(int(value.p), int(value.q)) == want[i]


def test_weights_enter_as_exact_float64_values():
    W = np.array([[0.1], [1 / 3]])
    b = np.array([-2.0**-40])
    xs = symbolic.input_symbols(2)
    expr = symbolic.neuron_expression([(W, b)], (0, 0), activation="linear")
    coeffs = [expr.coeff(xs[0]), expr.coeff(xs[1]), expr.subs({xs[0]: 0, xs[1]: 0})]
    assert [sympy.Rational(c) for c in coeffs] == [sympy.Rational(v) for v in (0.1, 1 / 3, b[0])]
    exact = symbolic.neuron_expression([(W, b)], (0, 0), activation="linear", rational=True)
    assert exact == sympy.Rational(0.1) * xs[0] + sympy.Rational(1 / 3) * xs[1] + sympy.Rational(b[0])


def test_single_neuron_equals_table_entry_and_custom_symbols():
    layers = _random_net(3, (2, 3, 2), 0.0, False)
    u, v = sympy.symbols("u v", real=True)
    table = symbolic.neuron_expressions(layers, activation="tanh", symbols=(u, v))
    assert symbolic.neuron_expression(layers, (0, 1), activation="tanh", symbols=(u, v)) == table[0][1]
    assert symbolic.neuron_expression(layers, (-1, 0), activation="tanh", symbols=(u, v)) == table[1][0]
    assert table[0][1].free_symbols == {u, v}


def test_mlp_input_uses_its_own_activation():
    model = MLP((2, 4, 3), "softplus", rngs=nnx.Rngs(0))
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in model.layers()]
    X = np.random.default_rng(0).normal(size=(20, 2))
    got = symbolic.lambdify_neuron(model, (1, 2))(X)
    _assert_close_to_forward(got, _forward(layers, X, "softplus")[1][:, 2])


def test_dead_neuron_is_constant_but_evaluates_to_full_shape():
    layers = [(np.zeros((2, 1)), np.array([-1.5])), (np.ones((1, 1)), np.array([0.25]))]
    f = symbolic.lambdify_neuron(layers, (1, 0), activation="relu")
    np.testing.assert_array_equal(f(np.ones((4, 2))), np.full(4, 0.25))
    assert symbolic.neuron_expression(layers, (0, 0), activation="relu") == 0


def test_latex_rounds_for_display_and_uses_one_based_names():
    layers = [(np.array([[0.123456789], [-2.0]]), np.array([1 / 3])), (np.ones((1, 1)), np.zeros(1))]
    expr = symbolic.neuron_expression(layers, (0, 0), activation="relu")
    short = symbolic.latex(expr)
    assert short == r"\max\left(0, 0.123 x_{1} - 2.0 x_{2} + 0.333\right)"
    full = symbolic.latex(expr, digits=None, one_based=False)
    assert "0.123456789" in full and "x_{0}" in full
    gelu = symbolic.neuron_expression(layers, (0, 0), activation="gelu", rational=True)
    assert r"\sqrt{2}" in symbolic.latex(gelu)  # exact 1/2 exponents are not rounded


def test_bad_input_messages():
    layers = _random_net(0, (2, 3, 2), 0.0, False)
    with pytest.raises(ValueError, match=r"neuron=\(2, 0\) does not exist"):
        symbolic.neuron_expression(layers, (2, 0), activation="relu")
    with pytest.raises(ValueError, match=r"neuron=\(0, 3\)"):
        symbolic.neuron_expression(layers, (0, 3), activation="relu")
    with pytest.raises(TypeError, match="neuron=3 must be a"):
        symbolic.neuron_expression(layers, 3, activation="relu")
    with pytest.raises(ValueError, match="symbols=.*must be 2 sympy Symbols"):
        symbolic.neuron_expressions(layers, activation="relu", symbols=sympy.symbols("a b c"))
    with pytest.raises(ValueError, match="activation=None"):
        symbolic.neuron_expressions(layers)
    with pytest.raises(ValueError, match="X has shape"):
        symbolic.lambdify_neuron(layers, (0, 0), activation="relu")(np.ones((3, 3)))
    with pytest.raises(ValueError, match="digits=0"):
        symbolic.latex(sympy.Float(1.5), digits=0)
