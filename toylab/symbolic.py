"""Exact sympy expressions of every neuron of a network, for any activation.

A neuron's *response function* (DESIGN.md) is its post-activation as a function of the
network input. Here it is written down as a closed-form sympy expression of the input
symbols ``x0, ..., x{d-1}``: nested ``Max``/``Min``/``Abs`` for the piecewise-linear
activations, ``tanh``, ``erf`` (exact GELU) and ``log(1 + exp)`` for the smooth ones, all
taken from :attr:`toylab.models.Activation.sympy_fn`. Nothing is approximated:

* weights and biases enter as sympy ``Float`` s holding the float64 values *exactly*
  (53-bit mantissa), or as the equal ``Rational`` s with ``rational=True``; sympy combines
  Float constants (e.g. a coefficient times a bias) at 53 bits, i.e. with the rounding of a
  float64 forward pass, while with ``rational=True`` every operation is exact;
* the activation is applied unsimplified (``sympy.evaluate(False)``), so a dead ReLU stays
  ``Max(0, ...)`` instead of sympy trying, at exponential cost, to decide signs of nested
  sums.

The one exception to "use ``sympy_fn`` verbatim": sympy folds any ``Piecewise`` nested in a
``Piecewise`` *condition* (``piecewise_fold``), which grows exponentially with depth and
width. A piecewise-linear activation whose ``sympy_fn`` is a ``Piecewise`` (leaky_relu) is
therefore written in the equal hinge form built from its ``pieces`` table,
``f(z) = a_0 + s_0 z + sum_k (s_{k+1} - s_k) Max(0, z - t_k)`` (breakpoints ``t_k``).
Tests check every activation against the float64 forward pass.

Expressions of deep, wide nets are large (each layer nests the previous one); use
:func:`lambdify_neuron` to evaluate them and :func:`latex` with ``digits`` to print them.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np
import sympy

from toylab.models import Activation, as_layers, check_finite_layers, get_activation, widths_of

Expr = sympy.Expr


# ----------------------------------------------------------------------------- numbers


def _number(value: float, rational: bool) -> Expr:
    """The float64 ``value`` as an exact sympy number: ``Float`` (53 bits) or ``Rational``."""
    return sympy.Rational(float(value)) if rational else sympy.Float(float(value))


# ----------------------------------------------------------------------------- symbols


def input_symbols(d: int) -> tuple[sympy.Symbol, ...]:
    """The default input symbols ``(x0, ..., x{d-1})`` (real)."""
    if int(d) != d or d < 1:
        raise ValueError(f"d={d!r} must be a positive input dimension, e.g. 2")
    return sympy.symbols(f"x0:{int(d)}", real=True)


def _resolve_symbols(symbols, d: int) -> tuple[sympy.Symbol, ...]:
    if symbols is None:
        return input_symbols(d)
    symbols = tuple(symbols)
    if len(symbols) != d or not all(isinstance(s, sympy.Symbol) for s in symbols):
        raise ValueError(
            f"symbols={symbols!r} must be {d} sympy Symbols, one per network input; "
            f"e.g. toylab.symbolic.input_symbols({d})"
        )
    return symbols


# ----------------------------------------------------------------------------- activation


def _hinge_form(act: Activation, z: Expr, rational: bool) -> Expr:
    """``f(z) = a_0 + s_0 z + sum_k (s_{k+1} - s_k) Max(0, z - t_k)`` from ``act.pieces``."""
    pieces = act.pieces
    _, _, slope0, intercept0 = pieces[0]
    terms = [_number(intercept0, rational), _number(slope0, rational) * z]
    for (_, t, s_lo, _), (_, _, s_hi, _) in zip(pieces[:-1], pieces[1:]):
        terms.append(_number(s_hi - s_lo, rational) * sympy.Max(0, z - _number(t, rational)))
    return sympy.Add(*terms)


def _activation_template(act: Activation, rational: bool) -> tuple[sympy.Dummy, Expr]:
    """``(u, f(u))``: the activation applied to a placeholder, ready to be substituted."""
    u = sympy.Dummy("z", real=True)
    template = act.sympy_fn(u)
    if act.piecewise_linear and template.has(sympy.Piecewise):
        template = _hinge_form(act, u, rational)
    return u, template


def _apply_template(u: sympy.Dummy, template: Expr, z: Expr) -> Expr:
    """``template`` with ``u -> z``; unevaluated unless ``z`` is a number (see module doc)."""
    if not z.free_symbols:
        return template.subs(u, z)
    with sympy.evaluate(False):
        return template.xreplace({u: z})


# ----------------------------------------------------------------------------- expressions


def _finite_layers(net, activation) -> tuple[list, str]:
    """``as_layers`` in float64, rejecting NaN/inf parameters with the layer, neuron and role
    named (a NaN has no sign, so sympy could not even build ``Max(0, nan)``)."""
    layers, name = as_layers(net, activation, dtype=np.float64)
    check_finite_layers(layers)
    return layers, name


def _layer_expressions(net, activation, symbols, rational, depth=None) -> list[list[Expr]]:
    layers, name = _finite_layers(net, activation)
    widths = widths_of(layers)
    xs = _resolve_symbols(symbols, widths[0])
    u, template = _activation_template(get_activation(name), rational)
    last = len(layers) - 1
    depth = last if depth is None else depth
    h: list[Expr] = list(xs)
    out: list[list[Expr]] = []
    for l, (W, b) in enumerate(layers[: depth + 1]):
        z = [
            sympy.Add(*(_number(W[i, j], rational) * h[i] for i in range(W.shape[0])),
                      _number(b[j], rational))
            for j in range(W.shape[1])
        ]
        h = z if l == last else [_apply_template(u, template, e) for e in z]
        out.append(h)
    return out


def neuron_expressions(net, *, activation: str | None = None,
                       symbols: Sequence[sympy.Symbol] | None = None,
                       rational: bool = False) -> list[list[Expr]]:
    """Every neuron's response function as an exact sympy expression of the input.

    Args:
        net: an :class:`toylab.models.MLP` or a layer list ``[(W (in, out), b (out,)), ...]``.
        activation: activation name (required for a layer list; see ``models.as_layers``).
        symbols: ``d`` input symbols; default :func:`input_symbols` ``(x0, ..., x{d-1})``.
        rational: weights as exact ``Rational`` s instead of 53-bit ``Float`` s.
    Returns:
        ``exprs[l][i]``: neuron ``(l, i)``; hidden layers give post-activations, the last
        layer the logits (DESIGN.md neuron addressing).
    """
    return _layer_expressions(net, activation, symbols, rational)


def _check_neuron(neuron, widths: tuple[int, ...]) -> tuple[int, int]:
    n_layers = len(widths) - 1
    try:
        layer, index = (int(v) for v in neuron)
    except (TypeError, ValueError):
        raise TypeError(f"neuron={neuron!r} must be a (layer, index) pair, e.g. (0, 3)") from None
    layer = layer + n_layers if layer < 0 else layer
    if not 0 <= layer < n_layers or not 0 <= index < widths[layer + 1]:
        raise ValueError(
            f"neuron={tuple(neuron)!r} does not exist; layers 0..{n_layers - 1} have widths "
            f"{widths[1:]} (the last layer is the logits)"
        )
    return layer, index


def neuron_expression(net, neuron: tuple[int, int], *, activation: str | None = None,
                      symbols: Sequence[sympy.Symbol] | None = None,
                      rational: bool = False) -> Expr:
    """The response function of one neuron ``(layer, index)``; see :func:`neuron_expressions`.

    Negative ``layer`` counts from the end (``-1`` = logits). Only layers up to ``layer`` are
    built.
    """
    layers, name = _finite_layers(net, activation)
    layer, index = _check_neuron(neuron, widths_of(layers))
    return _layer_expressions(layers, name, symbols, rational, depth=layer)[layer][index]


# ----------------------------------------------------------------------------- numerics, print


_LAMBDIFY_MODULES = "scipy"
"""scipy's printer maps ``erf`` to ``scipy.special.erf`` (numpy has no erf) and the rest to numpy."""


def lambdify_expression(expr: Expr, symbols: Sequence[sympy.Symbol]) -> Callable:
    """``f(X (..., d)) -> (...)`` float64 evaluating ``expr`` of ``symbols`` (numpy/scipy)."""
    symbols = tuple(symbols)
    with sympy.evaluate(False):  # cse rebuilds Max/Min; evaluating them is slow and needless
        raw = sympy.lambdify(symbols, expr, _LAMBDIFY_MODULES, cse=True)

    def f(X):
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1:] != (len(symbols),):
            raise ValueError(
                f"X has shape {X.shape}; expected (..., {len(symbols)}), one column per symbol"
            )
        value = raw(*np.moveaxis(X, -1, 0))
        return np.broadcast_to(np.asarray(value, dtype=np.float64), X.shape[:-1]).copy()

    return f


def lambdify_neuron(net, neuron: tuple[int, int], *, activation: str | None = None,
                    rational: bool = False) -> Callable:
    """A numpy function ``f(X (..., d)) -> (...)`` evaluating neuron ``(layer, index)``'s
    exact expression (:func:`neuron_expression`) in float64."""
    layers, name = _finite_layers(net, activation)
    xs = input_symbols(widths_of(layers)[0])
    expr = neuron_expression(layers, neuron, activation=name, symbols=xs, rational=rational)
    return lambdify_expression(expr, xs)


def round_numbers(expr: Expr, digits: int) -> Expr:
    """``expr`` with its Floats, and Rationals with more than ``digits`` denominator digits,
    rounded to ``digits`` significant digits; short exact numbers such as the ``1/2`` of
    ``sqrt(2)/2`` stay as they are.

    For display only: the result is no longer the exact network.
    """
    if int(digits) != digits or digits < 1:
        raise ValueError(f"digits={digits!r} must be a positive integer, e.g. 3")
    numbers = {a for a in expr.atoms(sympy.Float, sympy.Rational)
               if a.is_Float or len(str(a.q)) > digits}
    with sympy.evaluate(False):
        return expr.xreplace({a: sympy.Float(a, int(digits)) for a in numbers})


def latex(expr: Expr, *, digits: int | None = 3, one_based: bool = True, **latex_kw) -> str:
    """Short LaTeX of a neuron expression for papers.

    Args:
        expr: a sympy expression (e.g. from :func:`neuron_expression`).
        digits: significant digits of the displayed coefficients (:func:`round_numbers`);
            ``None`` prints the exact numbers.
        one_based: print ``x0, x1, ...`` as ``x_1, x_2, ...``, matching the figure axes.
        **latex_kw: passed to ``sympy.latex``.
    Returns:
        the LaTeX string (no surrounding ``$``).
    """
    if digits is not None:
        expr = round_numbers(expr, digits)
    if one_based:
        names = {s: f"x_{{{int(m[1]) + 1}}}" for s in expr.free_symbols
                 if (m := re.fullmatch(r"x(\d+)", s.name))}
        latex_kw = {"symbol_names": names, **latex_kw}
    return sympy.latex(expr, **latex_kw)
