"""toylab.models: the layer-list contract, activations table, flat parameter order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st

from toylab import models
from toylab.models import ACTIVATIONS, MLP

widths_strategy = st.lists(st.integers(1, 6), min_size=2, max_size=5).map(tuple)


def random_layers(rng, widths, dtype=np.float64):
    return [(rng.standard_normal((a, b)).astype(dtype), rng.standard_normal(b).astype(dtype))
            for a, b in zip(widths[:-1], widths[1:])]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_module_equals_functional_apply(name):
    model = MLP((3, 5, 4, 2), name, rngs=nnx.Rngs(7))
    x = np.random.default_rng(0).standard_normal((11, 3)).astype(np.float32)
    np.testing.assert_array_equal(model(x), models.apply(model.layers(), x, name))
    rebuilt = MLP.from_layers(model.layers(), name)
    np.testing.assert_array_equal(rebuilt(x), model(x))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_sympy_and_pieces_agree_with_jax(name):
    act = ACTIVATIONS[name]
    z = np.concatenate([np.linspace(-3, 3, 61), [-1.0, 0.0, 1.0]])
    with jax.enable_x64(True):
        values = np.asarray(act.fn(jnp.asarray(z, jnp.float64)))
    s = sympy.Symbol("z", real=True)
    symbolic = sympy.lambdify(s, act.sympy_fn(s), modules=["numpy", "scipy"])
    np.testing.assert_allclose([float(symbolic(v)) for v in z], values, rtol=1e-12, atol=1e-12)
    if act.piecewise_linear:
        for lo, hi, slope, intercept in act.pieces:
            inside = (z >= lo) & (z <= hi)
            np.testing.assert_allclose(values[inside], slope * z[inside] + intercept, atol=1e-15)
        assert act.pieces[0][0] == -np.inf and act.pieces[-1][1] == np.inf


def test_activations_returns_pre_and_post_of_every_layer():
    rng = np.random.default_rng(1)
    layers = random_layers(rng, (2, 4, 3, 2))
    x = rng.standard_normal((9, 2))
    with jax.enable_x64(True):
        out = models.activations(layers, x, "relu")
        assert len(out.pre) == len(out.post) == 3
        np.testing.assert_allclose(out.post[0], np.maximum(x @ layers[0][0] + layers[0][1], 0))
        np.testing.assert_allclose(out.post[1], np.maximum(out.pre[1], 0))
        np.testing.assert_array_equal(out.post[-1], models.apply(layers, x, "relu"))


@given(widths=widths_strategy, seed=st.integers(0, 2**16))
def test_flatten_unflatten_round_trip(widths, seed):
    layers = random_layers(np.random.default_rng(seed), widths)
    flat = np.asarray(models.flatten(layers))
    assert flat.shape == (models.n_params(widths),)
    for (W, b), (W2, b2) in zip(layers, models.unflatten(flat, widths)):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_flat_order_is_w_row_major_then_b_per_layer():
    W0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    b0 = np.array([5.0, 6.0])
    W1 = np.array([[7.0], [8.0]])
    b1 = np.array([9.0])
    np.testing.assert_array_equal(models.flatten([(W0, b0), (W1, b1)]), np.arange(1.0, 10.0))


@given(widths=widths_strategy)
def test_param_index_names_the_parameter_each_flat_entry_moves(widths):
    index = models.param_index(widths)
    P = models.n_params(widths)
    assert all(len(a) == P for a in index)
    for p in range(P):
        bumped = models.unflatten(np.eye(P)[p], widths)
        layer, neuron, role = index.role(p)
        W, b = bumped[layer]
        if role == "bias":
            assert b[neuron] == 1 and W.sum() == 0
        else:
            assert W[index.source[p], neuron] == 1 and b.sum() == 0


def test_init_is_he_normal_with_zero_bias():
    layers = models.init_layers(jax.random.key(0), (400, 300, 2))
    W, b = layers[0]
    assert np.all(np.asarray(b) == 0)
    assert abs(float(jnp.std(W)) - np.sqrt(2 / 400)) < 0.01 * np.sqrt(2 / 400) * 4


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: models.get_activation("swish"), "activation"),
        (lambda: MLP((2, 0, 3), rngs=nnx.Rngs(0)), "widths"),
        (lambda: MLP((2,), rngs=nnx.Rngs(0)), "widths"),
        (lambda: models.validate_layers([(np.zeros((2, 3)), np.zeros(3)),
                                         (np.zeros((4, 1)), np.zeros(1))]), "net[1]"),
        (lambda: models.unflatten(np.zeros(5), (2, 3)), "flat"),
        (lambda: models.as_layers([(np.zeros((2, 1)), np.zeros(1))]), "activation"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument.replace("[", r"\[").replace("]", r"\]")):
        call()
