"""Theory claim Y1: ``toylab.symbolic`` writes every neuron of any network, for every
activation, as a closed-form sympy expression that *is* the neuron (not an approximation):
evaluated in float64 it agrees with the plain forward pass up to rounding, at any input,
including for degenerate networks (dead, duplicated, zero-weight neurons). For the
piecewise-linear activations the expressions are nested ``Max``/``Min``/``Abs`` of affine
functions (Arora et al. 2018, "Understanding deep neural networks with rectified linear
units", Thm 2.1: every ReLU network is such a max-affine composition).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab import symbolic
from toylab import testing as tt
from toylab.models import ACTIVATIONS


@settings(max_examples=10)
@given(net=tt.networks(max_width=3, max_depth=2, activations=sorted(ACTIVATIONS)),
       pick=st.integers(0, 2**16), seed=st.integers(0, 2**16))
def test_symbolic_neurons_equal_the_forward_pass(net, pick, seed, forward64):
    """Y1 for the logits and one hidden neuron, at 64 Gaussian inputs (scale 3)."""
    X = np.random.default_rng(seed).normal(0, 3, (64, net.widths[0]))
    _, post = forward64(net.layers, X, net.activation)
    xs = symbolic.input_symbols(net.widths[0])
    exprs = symbolic.neuron_expressions(net.layers, activation=net.activation, symbols=xs)
    hidden_layer = pick % (len(exprs) - 1)
    neurons = [(len(exprs) - 1, i) for i in range(net.widths[-1])]
    neurons.append((hidden_layer, pick % net.widths[hidden_layer + 1]))
    for layer, i in neurons:
        got = symbolic.lambdify_expression(exprs[layer][i], xs)(X)
        want = post[layer][:, i]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max()))
