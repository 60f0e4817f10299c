"""The Bayes boundary of a Gaussian mixture as a sympy expression."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sympy

if TYPE_CHECKING:  # the mixture module imports this one
    from toylab.data.mixture import GaussianMixture


def sympy_number(x: float) -> sympy.Expr:
    """The simplest rational (denominator <= 10^6) that rounds to ``x``, else ``sympy.Float(x)``."""
    r = sympy.Rational(x).limit_denominator(10**6)
    return r if float(r) == x else sympy.Float(x)


def bayes_boundary(gm: GaussianMixture, i: int = 0, j: int = 1, symbols=None) -> sympy.Expr:
    """``log(pi_i p_i(x)) - log(pi_j p_j(x))`` as a sympy expression; its zero set is the
    Bayes boundary between classes ``i`` and ``j``.

    Single-component classes give an expanded polynomial: linear when the covariances are
    equal (LDA), quadratic otherwise (QDA; Hastie et al., ESL 2009, eqs. 4.9 and 4.12).
    Multi-component classes give a difference of logs of sums of exponentials (zero-weight
    components left out). The shared
    ``(2 pi)^(-d/2)`` factor is dropped. Numbers are the simplest rationals that round to the
    stored float64 values (else 53-bit ``sympy.Float``).

    Args:
        gm: the mixture.
        i, j: distinct classes in ``0..C-1``.
        symbols: ``d`` sympy symbols (default real ``x0, ..., x{d-1}``).
    """
    C = gm.n_classes
    for arg, c in (("i", i), ("j", j)):
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < C:
            raise ValueError(f"{arg}={c!r} is not a class; pick an integer in 0..{C - 1}")
    if i == j:
        raise ValueError(f"i=j={i}: a boundary needs two distinct classes")
    if symbols is None:
        symbols = sympy.symbols(f"x0:{gm.dim}", real=True)
    if len(symbols) != gm.dim:
        raise ValueError(f"symbols={symbols!r} must hold d={gm.dim} symbols")
    x = sympy.Matrix(symbols)

    def log_half_terms(c: int) -> list[sympy.Expr]:
        """``log(w_k det(S_k)^(-1/2)) - (x - m_k)^T S_k^-1 (x - m_k) / 2`` per component."""
        terms = []
        live = np.flatnonzero((gm.labels == c) & (gm.weights > 0))  # w = 0 adds exp(-inf) = 0
        if not len(live):
            raise ValueError(
                f"class {c} has prior 0 (all its components have weight 0), so it wins nowhere "
                f"and has no Bayes boundary; pick classes among "
                f"{np.flatnonzero(gm.class_weights > 0).tolist()}"
            )
        for k in live:
            S = sympy.Matrix(gm.dim, gm.dim, [sympy_number(v) for v in gm.covs[k].ravel()])
            r = x - sympy.Matrix([sympy_number(v) for v in gm.means[k]])
            quad = (r.T * S.inv() * r)[0, 0]
            w = sympy_number(float(gm.weights[k]))
            terms.append(sympy.log(w) - sympy.log(S.det()) / 2 - quad / 2)
        return terms

    ti, tj = log_half_terms(i), log_half_terms(j)
    if len(ti) == len(tj) == 1:
        return sympy.expand(ti[0] - tj[0])
    return sympy.log(sum(map(sympy.exp, ti))) - sympy.log(sum(map(sympy.exp, tj)))
