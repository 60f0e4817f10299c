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


# ----------------------------------------------------------------------------- layer-list input


def test_nested_lists_are_read_as_float_arrays():
    nested = [([[1.0, -2.0], [0.5, 1.0]], [0.0, 0.5]), ([[1.0], [-1.0]], [0.25])]
    arrays = [(np.asarray(W), np.asarray(b)) for W, b in nested]
    x = np.random.default_rng(0).standard_normal((7, 2))
    with jax.enable_x64(True):
        np.testing.assert_array_equal(models.apply(nested, x, "relu"),
                                      models.apply(arrays, x, "relu"))
    layers, name = models.as_layers(nested, "tanh")
    assert name == "tanh" and all(W.dtype == np.float64 for W, _ in layers)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: models.apply([(np.zeros((2, 3)), np.zeros(3)), (np.zeros((4, 1)), np.zeros(1))],
                              np.zeros((5, 2))), r"layers\[1\] takes 4 inputs .* shape \(3, out\)"),
        (lambda: models.apply([(np.zeros((2, 3)), np.zeros(3))], np.zeros((5, 3))),
         r"x has shape \(5, 3\) but the net takes 2 inputs.*\(\.\.\., 2\)"),
        (lambda: jax.jit(lambda x: models.apply([(jnp.zeros((2, 3)), jnp.zeros(3))], x))(
            jnp.zeros((5, 4))), r"x has shape \(5, 4\)"),
        (lambda: models.activations([(np.zeros((2, 3)), np.zeros(2))], np.zeros((5, 2))),
         r"layers\[0\] has W \(2, 3\) and b \(2,\)"),
        (lambda: models.validate_layers([([[1.0, 2.0], [3.0]], [0.0, 1.0])]),
         r"net\[0\]\[0\] is not a numeric array"),
        (lambda: models.validate_layers([np.zeros((2, 2))]), r"net\[0\] must be a \(W, b\) pair"),
    ],
)
def test_bad_layer_lists_and_inputs_name_the_argument_and_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- your own nnx MLP


class OwnMLP(nnx.Module):
    """A researcher's own MLP: Linear attributes in call order, activation held or inline."""

    def __init__(self, fn, *, rngs, inline=False, widths=(2, 6, 5, 3)):
        self.first = nnx.Linear(widths[0], widths[1], rngs=rngs)
        if not inline:
            self.act = fn
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs)
                                for a, b in zip(widths[1:-2], widths[2:-1])])
        self.head = nnx.Linear(widths[-2], widths[-1], rngs=rngs)
        self.widths = widths
        self._fn = fn

    def __call__(self, x):
        h = self._fn(self.first(x))
        for lin in self.hidden:
            h = self._fn(lin(h))
        return self.head(h)


def _linears(model):
    if isinstance(model, nnx.Sequential):
        return [m for m in model.layers if isinstance(m, nnx.Linear)]
    return [model.first, *model.hidden, model.head]


def _own_models(name):
    fn = ACTIVATIONS[name].fn
    return {
        "sequential": nnx.Sequential(nnx.Linear(2, 6, rngs=nnx.Rngs(1)), fn,
                                     nnx.Linear(6, 5, rngs=nnx.Rngs(2)), fn,
                                     nnx.Linear(5, 3, rngs=nnx.Rngs(3))),
        "attributes": OwnMLP(fn, rngs=nnx.Rngs(4)),
        "inline": OwnMLP(fn, rngs=nnx.Rngs(5), inline=True),
    }


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_layers_from_reads_your_own_nnx_mlp(name):
    x = np.random.default_rng(9).standard_normal((13, 2)).astype(np.float32)
    for form, model in _own_models(name).items():
        if form == "inline" and name in ("linear", "hard_tanh"):
            continue  # checked below: with no attribute, these two need activation=
        layers, found = models.layers_from(model)
        assert found == name, form
        for (W, b), lin in zip(layers, _linears(model), strict=True):
            np.testing.assert_array_equal(W, lin.kernel[...])
            np.testing.assert_array_equal(b, lin.bias[...])
        np.testing.assert_array_equal(models.apply(layers, x, found), model(x))
        rebuilt = MLP.from_layers(layers, found)
        np.testing.assert_array_equal(rebuilt(x), model(x))
        assert models.layers_from(rebuilt)[1] == found
        as_layers, as_name = models.as_layers(model, dtype=np.float64)
        assert as_name == name and as_layers[0][0].dtype == np.float64


def test_inline_activation_that_outputs_cannot_tell_needs_activation():
    """A net whose pre-activations stay inside [-1, 1] computes the same with hard_tanh and
    linear: the reading asks for activation= instead of guessing."""
    model = OwnMLP(ACTIVATIONS["hard_tanh"].fn, rngs=nnx.Rngs(0), inline=True)
    for lin in _linears(model):
        lin.kernel[...] = 0.05 * lin.kernel[...]
    with pytest.raises(ValueError, match=r"each of \['hard_tanh', 'linear'\]\); pass activation="):
        models.layers_from(model)
    assert models.layers_from(model, "hard_tanh")[1] == "hard_tanh"


def test_layers_from_recognises_flax_and_jax_activation_functions():
    import functools

    for fn, name in [(nnx.relu, "relu"), (jax.nn.relu, "relu"), (jnp.tanh, "tanh"),
                     (nnx.softplus, "softplus"), (jnp.abs, "abs"),
                     (functools.partial(jax.nn.gelu, approximate=False), "gelu"),
                     (functools.partial(jax.nn.leaky_relu, negative_slope=0.1), "leaky_relu")]:
        model = nnx.Sequential(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), fn,
                               nnx.Linear(4, 2, rngs=nnx.Rngs(1)))
        assert models.layers_from(model)[1] == name


def test_layers_from_missing_bias_is_an_error_or_exact_zeros():
    model = nnx.Sequential(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), nnx.relu,
                           nnx.Linear(4, 3, use_bias=False, rngs=nnx.Rngs(1)))
    with pytest.raises(ValueError,
                       match=r"model.layers\[2\].*use_bias=False.*missing_bias='zeros'"):
        models.layers_from(model)
    with pytest.raises(ValueError, match=r"model.layers\[2\]"):  # every analysis entry alike
        models.as_layers(model)
    layers, name = models.layers_from(model, missing_bias="zeros")
    np.testing.assert_array_equal(layers[1][1], np.zeros(3))
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_array_equal(models.apply(layers, x, name), model(x))


class Residual(nnx.Module):
    def __init__(self, rngs):
        self.a = nnx.Linear(2, 2, rngs=rngs)
        self.b = nnx.Linear(2, 2, rngs=rngs)

    def __call__(self, x):
        return x + self.b(nnx.relu(self.a(x)))


class Backwards(nnx.Module):
    """Layers defined in another order than __call__ applies them, same width in and out."""

    def __init__(self, rngs):
        self.head = nnx.Linear(4, 2, rngs=rngs)
        self.middle = nnx.Linear(4, 4, rngs=rngs)
        self.first = nnx.Linear(2, 4, rngs=rngs)

    def __call__(self, x):
        return self.head(nnx.relu(self.middle(nnx.relu(self.first(x)))))


class NotAChain(nnx.Module):
    def __init__(self, rngs):
        self.a = nnx.Linear(2, 4, rngs=rngs)
        self.b = nnx.Linear(3, 3, rngs=rngs)

    def __call__(self, x):
        return self.b(nnx.relu(self.a(x))[:, :3])


def test_layer_order_is_the_call_order_not_the_attribute_order():
    model = Backwards(nnx.Rngs(0))
    layers, name = models.layers_from(model)
    assert name == "relu"
    for (W, _), lin in zip(layers, [model.first, model.middle, model.head], strict=True):
        np.testing.assert_array_equal(W, lin.kernel[...])


def test_a_module_trained_under_nnx_jit_is_read():
    """nnx.jit may store attributes sorted by name ("first", "head", "second")."""
    import optax

    model = OwnMLP(nnx.relu, rngs=nnx.Rngs(0), inline=True)
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    X = jnp.asarray(np.random.default_rng(0).standard_normal((32, 2)), jnp.float32)

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda m: jnp.mean(m(X) ** 2))(model)
        optimizer.update(model, grads)

    step(model, optimizer)
    layers, name = models.layers_from(model)
    assert name == "relu"
    np.testing.assert_array_equal(models.apply(layers, X, name), model(X))


def _chain(*parts):
    """``nnx.Sequential`` of Linear layers given as ``(in, out)`` and other parts as given."""
    rngs = nnx.Rngs(0)
    return nnx.Sequential(*(nnx.Linear(*p, rngs=rngs) if isinstance(p, tuple) else p
                            for p in parts))


@pytest.mark.parametrize(
    "make, error, message",
    [
        pytest.param(lambda: _chain(nnx.Conv(2, 4, (3,), rngs=nnx.Rngs(0)), nnx.relu, (4, 3)),
                     ValueError, r"model.layers\[0\] is an nnx.Conv", id="conv"),
        pytest.param(lambda: _chain((2, 4), nnx.LayerNorm(4, rngs=nnx.Rngs(0)), nnx.relu, (4, 3)),
                     ValueError, r"model.layers\[1\] is an nnx.LayerNorm", id="layernorm"),
        pytest.param(lambda: _chain((2, 4), jax.nn.gelu, (4, 3)), ValueError,
                     r"model.layers\[1\] is not one of toylab's activations.*approximate=False",
                     id="approximate-gelu"),
        pytest.param(lambda: _chain((2, 4), nnx.relu, (4, 3), nnx.tanh, (3, 3)), ValueError,
                     r"several activations \['relu', 'tanh'\]", id="mixed-activations"),
        pytest.param(lambda: _chain((2, 4), nnx.relu, (4, 3), nnx.relu), ValueError,
                     r"do not reproduce model\(x\)", id="activation-on-logits"),
        pytest.param(lambda: Residual(nnx.Rngs(0)), ValueError,
                     r"with any of toylab's activations do not reproduce", id="skip-connection"),
        pytest.param(lambda: NotAChain(nnx.Rngs(0)), ValueError,
                     r"model.a \(2, 4\), model.b \(3, 3\).*do not chain", id="not-a-chain"),
        pytest.param(lambda: _chain(nnx.relu), ValueError, r"no nnx.Linear", id="no-linear"),
        pytest.param(lambda: [(np.zeros((2, 2)), np.zeros(2))], TypeError,
                     r"model=list is not an nnx.Module", id="layer-list"),
    ],
)
def test_layers_from_rejects_what_it_cannot_read(make, error, message):
    with pytest.raises(error, match=message):
        models.layers_from(make())


def test_layers_from_checks_activation_argument():
    model = nnx.Sequential(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), nnx.relu,
                           nnx.Linear(4, 3, rngs=nnx.Rngs(1)))
    with pytest.raises(ValueError, match=r"activation='tanh' contradicts the model's own 'relu'"):
        models.layers_from(model, "tanh")
    with pytest.raises(ValueError, match=r"activation='tanh' contradicts the model's own 'relu'"):
        models.as_layers(MLP((2, 3, 2), "relu", rngs=nnx.Rngs(0)), "tanh")
    with pytest.raises(ValueError, match=r"missing_bias='maybe' is unknown"):
        models.layers_from(model, missing_bias="maybe")


def test_analyses_take_your_own_module():
    """The exact partition, a symbolic neuron, the landscape Hessian, a loss slice along a
    random direction and a pruned copy of an own module equal those of the layer list it
    holds (each enters through as_layers or validate_layers)."""
    from toylab import landscape, symbolic
    from toylab.compare import editing
    from toylab.exact import partition

    model = OwnMLP(nnx.relu, rngs=nnx.Rngs(3), widths=(2, 4, 3))
    layers = [(lin.kernel[...], lin.bias[...]) for lin in _linears(model)]
    box = np.array([[-2.0, 2.0], [-2.0, 2.0]])
    ours, theirs = partition(model, box), partition(layers, box, activation="relu")
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours.evaluate(ours.centroids), theirs.evaluate(ours.centroids))
    assert symbolic.neuron_expression(model, (0, 1)) == symbolic.neuron_expression(
        layers, (0, 1), activation="relu")
    X = np.random.default_rng(0).standard_normal((16, 2))
    y = np.arange(16) % 3
    np.testing.assert_array_equal(landscape.hessian(model, X, y),
                                  landscape.hessian(layers, X, y, activation="relu"))
    direction = landscape.random_direction(model, seed=1)
    np.testing.assert_array_equal(direction, landscape.random_direction(layers, seed=1))
    grid = [np.linspace(-1.0, 1.0, 5)]
    np.testing.assert_array_equal(
        landscape.loss_slice(model, X, y, direction, grid).losses,
        landscape.loss_slice(layers, X, y, direction, grid, activation="relu").losses)
    for (W, b), (W2, b2) in zip(editing.prune(model, 0.3), editing.prune(layers, 0.3), strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


# ----------------------------------------------------------------------------- losses


def _reference_cross_entropy(z, y):
    from scipy.special import logsumexp

    return np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y])


def _reference_mse(z, y):
    targets = np.eye(z.shape[1])[y] if y.ndim == 1 else y
    return 0.5 * np.mean(np.sum((z - targets) ** 2, axis=1))


REFERENCE_LOSSES = {"cross_entropy": _reference_cross_entropy, "mse": _reference_mse}
"""An independent float64 NumPy formula for every entry of ``LOSSES``."""


def test_every_loss_has_a_reference():
    assert set(models.LOSSES) == set(REFERENCE_LOSSES)


@pytest.mark.parametrize("name", sorted(models.LOSSES))
def test_loss_matches_its_reference(name):
    rng = np.random.default_rng(5)
    z = 3 * rng.standard_normal((17, 4))
    targets = [rng.integers(0, 4, 17)] + ([rng.standard_normal((17, 4))] if name == "mse" else [])
    with jax.enable_x64(True):
        for y in targets:
            np.testing.assert_allclose(float(models.LOSSES[name](jnp.asarray(z), jnp.asarray(y))),
                                       REFERENCE_LOSSES[name](z, y), rtol=1e-13)
