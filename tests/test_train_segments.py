"""toylab.train.train_segment: a run in segments equals one run, with one compiled program."""

import dataclasses

import jax
import numpy as np
import pytest

from toylab import data
from toylab.train import (
    TrainConfig,
    TrainState,
    init_state,
    join_segments,
    train_ensemble,
    train_segment,
)

SEEDS = [0, 3, 7]
SEGMENTS, STEPS = 3, 20  # three segments of 20 steps against one run of 60
CONFIGS = {
    "adam": TrainConfig(widths=(2, 8, 3), steps=STEPS, snapshot_every=10, learning_rate=3e-2,
                        weight_decay=1e-3),
    "sgd_minibatch": TrainConfig(widths=(2, 8, 8, 3), steps=STEPS, snapshot_every=10,
                                 optimizer="sgd", learning_rate=0.1, batch_size=32,
                                 weight_decay=1e-3),
    "momentum_mean_field": TrainConfig(widths=(2, 8, 3), steps=STEPS, snapshot_every=5,
                                       optimizer="momentum", learning_rate=0.2,
                                       parameterization="mean_field", batch_size=48),
}


@pytest.fixture(scope="module")
def blobs():
    sample = data.blobs(3).sample(1, 128)
    return sample.X, sample.y


@pytest.fixture(scope="module")
def whole_runs(blobs):
    """name -> one run of all the segments' steps (computed once per config)."""
    cache = {}

    def run(name):
        if name not in cache:
            cache[name] = train_ensemble(*blobs, SEEDS, config=dataclasses.replace(
                CONFIGS[name], steps=SEGMENTS * STEPS))
        return cache[name]

    return run


def _segments(X, y, config, n=SEGMENTS):
    """``n`` segments from the initialisation: their results and the final state."""
    results, state = [], None
    for _ in range(n):
        result, state = train_segment(X, y, SEEDS, config=config, state=state)
        results.append(result)
    return results, state


def _assert_same_run(joined, whole, exact: bool):
    check = (np.testing.assert_array_equal if exact else
             lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12))
    np.testing.assert_array_equal(joined.snapshot_steps, whole.snapshot_steps)
    for (W, b), (W2, b2) in zip(joined.snapshots + joined.layers,
                                whole.snapshots + whole.layers):
        check(W, W2)
        check(b, b2)
    for name in ("loss", "accuracy", "final_loss", "final_accuracy"):
        check(getattr(joined, name), getattr(whole, name))


@pytest.mark.parametrize("name", [pytest.param("adam", marks=pytest.mark.slow),
                                  pytest.param("sgd_minibatch", marks=pytest.mark.slow),
                                  "momentum_mean_field"])
def test_segments_equal_one_run_bit_for_bit(blobs, whole_runs, name):
    """Parameters, optimizer state (Adam's moments and count, momentum) and minibatch draws
    carry over: three segments of 20 steps give the bits of one 60-step run."""
    config = CONFIGS[name]
    results, state = _segments(*blobs, config)
    whole = whole_runs(name)
    _assert_same_run(join_segments(results), whole, exact=True)
    assert state.step == SEGMENTS * STEPS
    np.testing.assert_array_equal(state.seeds, SEEDS)
    if config.parameterization == "standard":  # the state holds the parameters as trained
        for (W, b), (W2, b2) in zip(state.params, whole.layers):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)
    # the learning itself is real: the loss fell over the segments
    assert np.all(results[-1].final_loss < results[0].loss[:, 0] / 2)


@pytest.mark.slow
def test_float64_segments_equal_one_run(blobs):
    config = dataclasses.replace(CONFIGS["sgd_minibatch"], dtype="float64", bias_init="data",
                                 bias_std=0.1, optimizer="adam", learning_rate=1e-2)
    results, _ = _segments(*blobs, config)
    whole = train_ensemble(*blobs, SEEDS, config=dataclasses.replace(
        config, steps=SEGMENTS * STEPS))
    assert whole.layers[0][0].dtype == np.float64
    _assert_same_run(join_segments(results), whole, exact=False)


def test_segments_after_the_first_compile_nothing(blobs):
    """Every segment of a spec runs the same compiled program: no XLA compilation happens in
    the segments after the first (counted with JAX's compile-time monitoring events)."""
    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    config = dataclasses.replace(CONFIGS["adam"], learning_rate=1e-2)  # a traced input
    result, state = train_segment(*blobs, SEEDS, config=config)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for _ in range(3):
            result, state = train_segment(*blobs, SEEDS, config=config, state=state)
        assert compiles == []
        train_segment(*blobs, SEEDS, config=dataclasses.replace(config, widths=(2, 5, 3)))
        assert compiles, "the listener sees compilations (a new spec compiles)"
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert result.snapshot_steps.tolist() == [60, 70, 80] and state.step == 80


def test_init_state_is_the_initialisation_of_train_ensemble(blobs, whole_runs):
    state = init_state(*blobs, SEEDS, config=CONFIGS["adam"])
    whole = whole_runs("adam")
    assert state.step == 0
    for (W, b), (W0, b0) in zip(state.params, whole.snapshots):
        np.testing.assert_array_equal(W, W0[:, 0])
        np.testing.assert_array_equal(b, b0[:, 0])


def test_bad_state_and_segments_are_named(blobs):
    config = CONFIGS["adam"]
    result, state = train_segment(*blobs, SEEDS, config=config)
    with pytest.raises(ValueError, match=r"state is of seeds \[0, 3, 7\] but seeds=\[0, 3\]"):
        train_segment(*blobs, [0, 3], config=config, state=state)
    with pytest.raises(ValueError, match="state does not fit config.*widths=\\(2, 9, 3\\)"):
        train_segment(*blobs, SEEDS, config=dataclasses.replace(config, widths=(2, 9, 3)),
                      state=state)
    with pytest.raises(ValueError, match="optimizer='sgd'"):  # Adam's moments are not SGD's
        train_segment(*blobs, SEEDS, config=dataclasses.replace(config, optimizer="sgd"),
                      state=state)
    with pytest.raises(TypeError, match="state is a tuple"):
        train_segment(*blobs, SEEDS, config=config, state=tuple(state))
    with pytest.raises(ValueError, match="state.step=-1"):
        train_segment(*blobs, SEEDS, config=config, state=state._replace(step=-1))
    with pytest.raises(ValueError, match=r"results\[1\] starts at step 0.*ends at step 20"):
        join_segments([result, result])
    with pytest.raises(ValueError, match="results is empty"):
        join_segments([])
    assert isinstance(state, TrainState)
