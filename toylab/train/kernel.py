"""The seed-batched training kernel: pure, traceable functions that train a chunk of runs.

Runs of a chunk are trained together with an explicit seed axis: activations are
``(S, width, n)`` (points last, so elementwise work vectorises over points) and every layer
is one product batched over seeds (:func:`seed_batched_apply`). XLA CPU's batched dots are
slow for thin matrices, so a product whose contracted size is small, or which contracts a
modest dimension into a tiny one, runs as an unrolled sum of broadcast products that fuses
with the bias and activation around it (a custom VJP picks the backward products the same
way). For 256 seeds of a 2-16-16-3 net on 512 points this takes a training step from 17.1 ms
(vmap of the per-seed loss) to 3.5-3.9 ms with two devices and cache-sized chunks
(benchmarks/README.md, train_ensemble).

:func:`train_runs` trains ``R`` runs as sequential chunks of a fixed width; its per-chunk
program does not depend on ``R``, so a run's result does not depend on how many runs share
the call. :mod:`toylab.train.runner` compiles it, sharded over devices.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from toylab.models import Layers, get_activation
from toylab.train.config import DTYPES, OPTIMIZERS, Hyper, TrainSpec
from toylab.train.inits import PARAMETERIZATIONS, init_run

Array = jax.Array

SMALL_WIDTH = 4
"""Layers with fan-in or fan-out at most this use unrolled sums instead of batched dots."""

MAX_UNROLL = 32
"""Longest sum that is unrolled; longer contractions always use a batched dot."""


def _unrolled(contracted: int, other: int) -> bool:
    """Whether a product contracting ``contracted`` into ``other`` runs as an unrolled sum."""
    return contracted <= MAX_UNROLL and min(contracted, other) <= SMALL_WIDTH


def _forward_product(W: Array, h: Array) -> Array:
    """``(S, i, o), (S, i, n) or (i, n) -> (S, o, n)``: ``sum_i W[s, i, o] h[s, i, n]``."""
    if _unrolled(W.shape[1], W.shape[2]):
        h = h if h.ndim == 3 else h[None]
        return sum(W[:, k, :, None] * h[:, k, None, :] for k in range(W.shape[1]))
    return jnp.einsum("sio,in->son" if h.ndim == 2 else "sio,sin->son", W, h)


def _backward_product(W: Array, d: Array) -> Array:
    """``(S, i, o), (S, o, n) -> (S, i, n)``: ``sum_o W[s, i, o] d[s, o, n]``."""
    if _unrolled(W.shape[2], W.shape[1]):
        return sum(W[:, :, k, None] * d[:, k, None, :] for k in range(W.shape[2]))
    return jnp.einsum("sio,son->sin", W, d)


@jax.custom_vjp
def _seed_batched_dense(W: Array, h: Array) -> Array:
    """``W: (S, in, out)``, ``h: (S, in, n)`` or shared ``(in, n)`` -> ``(S, out, n)``, with a
    backward pass that picks its own product forms (``dW`` as a dot over points, ``dh`` as
    :func:`_backward_product`); a shared ``h`` (the data) gets no used cotangent, which XLA
    removes."""
    return _forward_product(W, h)


def _dense_fwd(W, h):
    return _forward_product(W, h), (W, h)


def _dense_bwd(residuals, d):
    W, h = residuals
    dW = jnp.einsum("in,son->sio" if h.ndim == 2 else "sin,son->sio", h, d)
    dh = _backward_product(W, d)
    return dW, dh if h.ndim == 3 else dh.sum(0)


_seed_batched_dense.defvjp(_dense_fwd, _dense_bwd)


def _seed_batched_logits(layers: Layers, X: Array, activation: str,
                         output_multiplier: float | None) -> Array:
    """:func:`seed_batched_apply` in the kernel's own layout: outputs ``(S, out, n)``."""
    act = get_activation(activation).fn
    h = jnp.swapaxes(X, -1, -2)
    for i, (W, b) in enumerate(layers):
        z = _seed_batched_dense(W, h)
        if i == len(layers) - 1 and output_multiplier is not None:
            z = z * jnp.asarray(output_multiplier, z.dtype)
        h = z + b[:, :, None]
        if i < len(layers) - 1:
            h = act(h)
    return h


POINTS_LAST_LOSSES: dict[str, Callable[[Array, Array], Array]] = {
    "cross_entropy": lambda h, t: jax.nn.logsumexp(h, axis=1) - jnp.sum(h * t, axis=1),
    "mse": lambda h, t: 0.5 * jnp.sum((h - t) ** 2, axis=1),
}
""":data:`toylab.models.LOSSES` per point on the kernel's layout: outputs ``h (S, C, n)``,
targets ``t`` (one-hot for labels) ``(S or 1, C, n)`` -> ``(S, n)``. The class reductions
run across vectors of points; the logits never go through a ``C``-minor transpose."""


def _points_last_losses(loss: str, h: Array, y: Array) -> tuple[Array, Array]:
    """Per-run mean losses and accuracies ``(S,)`` of outputs ``h (S, C, n)`` against ``y``:
    integer labels ``(n,)`` / ``(S, n)`` or float targets ``(n, C)`` / ``(S, n, C)``
    (accuracy NaN); the values of :data:`toylab.models.LOSSES` on ``(n, C)`` outputs."""
    if jnp.issubdtype(y.dtype, jnp.integer):
        labels = y[None] if y.ndim == 1 else y
        targets = jax.nn.one_hot(labels, h.shape[1], axis=1, dtype=h.dtype)
        acc = jnp.mean(jnp.argmax(h, axis=1) == labels, axis=-1)
    else:
        targets = jnp.swapaxes(y, -1, -2)
        targets = targets[None] if targets.ndim == 2 else targets
        acc = jnp.full(h.shape[0], jnp.nan, h.dtype)
    return POINTS_LAST_LOSSES[loss](h, targets).mean(-1), acc


def seed_batched_apply(layers: Layers, X: Array, activation: str = "relu",
                       output_multiplier: float | None = None) -> Array:
    """Forward pass of S networks at once (the training kernel; equals
    ``jax.vmap(toylab.models.apply)`` up to float rounding).

    Args:
        layers: ``[(W (S, in, out), b (S, out)), ...]``.
        X: ``(n, d)`` shared by all networks, or ``(S, n, d)``.
        activation: name in ``toylab.models.ACTIVATIONS``.
        output_multiplier: the output layer computes ``m * h W + b`` (``None``: ``h W + b``;
            see :data:`toylab.train.inits.PARAMETERIZATIONS`).
    Returns:
        outputs ``(S, n, out)``.
    """
    return jnp.swapaxes(_seed_batched_logits(layers, X, activation, output_multiplier), 1, 2)


def _take_rows(a: Array, idx: Array, per_seed: bool) -> Array:
    """Rows ``idx: (S, B)`` of shared ``a: (n, ...)`` or per-run ``a: (S, n, ...)``, giving
    ``(S, B, ...)``."""
    return jax.vmap(lambda a_s, i: a_s[i])(a, idx) if per_seed else a[idx]


def _standard_form(layers: Layers, multiplier: float | None) -> Layers:
    """Fold the output multiplier into the output weights (leading axes are kept)."""
    if multiplier is None:
        return layers
    W, b = layers[-1]
    return list(layers[:-1]) + [(W * jnp.asarray(multiplier, W.dtype), b)]


def init_chunk(seeds: Array, hyper: Hyper, X: Array, *, spec: TrainSpec,
               per_seed_data: bool) -> tuple:
    """Initial parameters and optimizer state of ``c`` runs (pure): run ``i`` draws its init
    from the first half of ``jax.random.split(jax.random.key(seeds[i]))`` (the second half
    draws its minibatches, :func:`_train_chunk`).

    Args:
        seeds: ``(c,)`` init seeds. hyper: :class:`Hyper` of ``(c,)`` arrays.
        X: ``(n, d)`` shared data, or ``(c, n, d)`` with ``per_seed_data`` (the ``"data"``
            bias init places folds through training points).
        spec: the compile-time config.
    Returns:
        ``(layers, opt_state)``: ``[(W (c, in, out), b (c, out)), ...]`` in the
        parameterisation's own form (output multiplier not folded in) and the optax state of
        every run (every leaf with leading axis ``c``).
    """
    init_keys = jax.vmap(lambda seed: jax.random.split(jax.random.key(seed))[0])(seeds)
    layers = jax.vmap(
        lambda key, x, scale, std: init_run(key, x, scale, std, widths=spec.widths,
                                            dtype=DTYPES[spec.dtype], bias_init=spec.bias_init,
                                            parameterization=spec.parameterization),
        in_axes=(0, 0 if per_seed_data else None, 0, 0),
    )(init_keys, X, hyper.init_scale, hyper.bias_std)
    optimizer = OPTIMIZERS[spec.optimizer]
    return layers, jax.vmap(lambda h, p: optimizer(h).init(p))(hyper, layers)


def _train_chunk(seeds: Array, hyper: Hyper, X: Array, y: Array, *, spec: TrainSpec,
                 per_seed_data: bool, progress_offset: Array | None = None,
                 tick=None, start: tuple | None = None) -> tuple:
    """Train ``c`` networks at once, one per seed, with hyperparameters ``hyper`` (``(c,)``
    arrays); pure. Each run depends only on its own seed, hyperparameters and data.

    ``X: (n, d)`` / ``y`` shared, or with a leading ``c`` axis when ``per_seed_data``.
    ``progress_offset`` (a traced int, or None for no progress reports) is added to the number
    of finished snapshot intervals passed to ``tick`` (a host callback).
    ``start``: ``None`` trains from the initialisation (:func:`init_chunk`); or
    ``(layers, opt_state, step)`` continues runs that have done ``step: (c,)`` steps from
    those parameters (own form) and optimizer state, and then a seventh output is the final
    ``(layers, opt_state)`` in the same form (a segment of a longer run, see
    :func:`toylab.train.train_segment`).
    """
    dtype = DTYPES[spec.dtype]
    param = PARAMETERIZATIONS[spec.parameterization]
    multiplier = param.output_multiplier(spec.widths)
    factors = param.update_factors(spec.widths, spec.optimizer)
    batch_keys = jax.vmap(lambda seed: jax.random.split(jax.random.key(seed))[1])(seeds)
    if start is None:
        layers, opt_state = init_chunk(seeds, hyper, X, spec=spec, per_seed_data=per_seed_data)
    else:
        layers, opt_state, first_step = start
    optimizer = OPTIMIZERS[spec.optimizer]
    n = X.shape[-2]
    full_batch = spec.batch_size is None or spec.batch_size >= n

    def losses(params, Xb, yb):
        """Per-run mean losses and accuracies ``(c,)`` on shared or per-run data (told apart
        by their shapes, :func:`_points_last_losses`)."""
        h = _seed_batched_logits(params, Xb, spec.activation, multiplier)
        return _points_last_losses(spec.loss, h, yb)

    def total_loss(params, Xb, yb):
        # the runs share no parameters, so the gradient of the sum is every run's own gradient
        loss, acc = losses(params, Xb, yb)
        return loss.sum(), (loss, acc)

    def batch_rows(key, run_step):
        """The minibatch of one run at its step ``run_step``: ``(batch_size,)`` indices."""
        return jax.random.choice(jax.random.fold_in(key, run_step), n, (spec.batch_size,),
                                 replace=False)

    def step_fn(carry, step):
        params, opt_state = carry
        if full_batch:  # one forward pass serves both the gradient and the curves
            (_, (loss, acc)), grads = jax.value_and_grad(total_loss, has_aux=True)(params, X, y)
        else:
            loss, acc = losses(params, X, y)
            if start is None:
                idx = jax.vmap(lambda key: batch_rows(key, step))(batch_keys)
            else:  # each run continues its own minibatch sequence
                idx = jax.vmap(lambda key, s: batch_rows(key, s + step))(batch_keys, first_step)
            batch = (_take_rows(X, idx, per_seed_data), _take_rows(y, idx, per_seed_data))
            grads = jax.grad(lambda p: total_loss(p, *batch)[0])(params)
        updates, opt_state = jax.vmap(
            lambda h, g, s, p: optimizer(h).update(g, s, p))(hyper, grads, opt_state, params)
        if factors is not None:  # per-tensor step sizes of the parameterisation
            updates = [(uW * jnp.asarray(fW, dtype), ub * jnp.asarray(fb, dtype))
                       for (uW, ub), (fW, fb) in zip(updates, factors)]
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)

    def chunk_fn(carry, chunk):
        steps = chunk * spec.snapshot_every + jnp.arange(spec.snapshot_every)
        carry, curves = jax.lax.scan(step_fn, carry, steps)
        if progress_offset is not None:
            jax.debug.callback(tick, progress_offset + chunk + 1)
        return carry, (carry[0], curves)

    n_chunks = spec.steps // spec.snapshot_every
    (final, final_opt), (snaps, (loss, acc)) = jax.lax.scan(
        chunk_fn, (layers, opt_state), jnp.arange(n_chunks))
    snapshots = jax.tree.map(lambda s0, s: jnp.moveaxis(jnp.concatenate([s0[None], s]), 0, 1),
                             layers, snaps)
    final_loss, final_acc = losses(final, X, y)
    curve = lambda a: a.reshape(spec.steps, -1).T  # (chunks, every, c) -> (c, steps)
    out = (_standard_form(final, multiplier), curve(loss), curve(acc),
           _standard_form(snapshots, multiplier), final_loss, final_acc)
    return out if start is None else out + ((final, final_opt),)


def train_runs(seeds: Array, hyper: Hyper, X: Array, y: Array, start: tuple | None = None, *,
               spec: TrainSpec, chunk: int, per_seed_data: bool = False, tick=None) -> tuple:
    """Train R runs as ``R / chunk`` sequential chunks of ``chunk`` runs each (pure, traceable).

    The per-chunk program is the same whatever ``R`` is, so a run's result does not depend on
    how many runs share the call (see :mod:`toylab.train`). :mod:`toylab.train.runner` wraps
    this in ``shard_map`` to spread the runs over devices.

    Args:
        seeds: ``(R,)`` uint32 init seeds, ``R`` a multiple of ``chunk``.
        hyper: :class:`~toylab.train.config.Hyper` of ``(R,)`` arrays in the config dtype.
        X: ``(n, d)`` shared data, or ``(R, n, d)`` with ``per_seed_data``; y likewise.
        spec: the compile-time config (:attr:`~toylab.train.config.TrainConfig.spec`).
        start: ``None`` to train from the initialisation, or ``(layers, opt_state, step)``
            with leading axis ``R`` (:func:`_train_chunk`) to continue runs.
        chunk: runs trained at once (the width of the seed axis of every product).
        tick: ``None``, or a host function called with the number of finished snapshot
            intervals of this device's share of the runs (a progress bar).
    Returns:
        ``(final layers, loss (R, steps), accuracy (R, steps), snapshots, final_loss (R,),
        final_accuracy (R,))``, every leaf with leading axis ``R``; layers in the standard
        form (output multiplier folded into the output weights). With ``start``, a seventh
        element: the final ``(layers, opt_state)`` in the form ``start`` takes.
    """
    n_runs = seeds.shape[0]
    if n_runs % chunk:
        raise ValueError(f"{n_runs} runs is not a multiple of chunk={chunk}; pad the runs")
    n_chunks = n_runs // chunk
    intervals = spec.steps // spec.snapshot_every

    def one_chunk(args):
        index, seeds, hyper, start, X, y = args
        offset = index * intervals if tick is not None else None
        return _train_chunk(seeds, hyper, X, y, spec=spec, per_seed_data=per_seed_data,
                            progress_offset=offset, tick=tick, start=start)

    def chunked(a):
        return a.reshape((n_chunks, chunk) + a.shape[1:])

    data = (chunked(X), chunked(y)) if per_seed_data else (X, y)
    args = (jnp.arange(n_chunks), chunked(seeds), jax.tree.map(chunked, hyper),
            jax.tree.map(chunked, start))
    if per_seed_data:
        out = jax.lax.map(one_chunk, args + data)
    else:  # shared data is closed over, not copied per chunk
        out = jax.lax.map(lambda a: one_chunk(a + data), args)
    return jax.tree.map(lambda a: a.reshape((n_runs,) + a.shape[2:]), out)
