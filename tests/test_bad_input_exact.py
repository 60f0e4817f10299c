"""Bad input to toylab.exact (issue 11 items 1, 3, 10, 13): each row a clear error (naming the
argument, the value and the fix) or a defined answer, never a silently wrong one."""

import numpy as np
import pytest

from toylab import data
from toylab.exact import partition, partition_line, smooth


def _net(bad=None, where=(0, "W")):
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(2, 5)), rng.normal(size=5)),
              (rng.normal(size=(5, 4)), rng.normal(size=4)),
              (rng.normal(size=(4, 3)), rng.normal(size=3))]
    if bad is not None:
        layer, role = where
        W, b = layers[layer]
        if role == "W":
            W[1, 2] = bad
        else:
            b[2] = bad
    return layers


NON_FINITE = [(np.nan, (0, "W")), (np.inf, (1, "b")), (-np.inf, (2, "W"))]


@pytest.mark.parametrize("bad, where", NON_FINITE)
def test_non_finite_weights_are_refused_by_partition(bad, where):
    """A NaN net must not give a partition (it used to give one with 'exact' NaN maps)."""
    role = "weight" if where[1] == "W" else "bias"
    with pytest.raises(ValueError, match=rf"non-finite {role} values in layer {where[0]} "
                                         r"\(first: neuron 2"):
        partition(_net(bad, where), activation="relu")


@pytest.mark.parametrize("bad, where", NON_FINITE)
def test_non_finite_weights_are_refused_along_lines_and_slices(bad, where):
    layers = _net(bad, where)
    with pytest.raises(ValueError, match="non-finite"):
        partition_line(layers, [0.0, 0.0], [1.0, 0.5], (-1.0, 1.0), activation="relu")
    with pytest.raises(ValueError, match="non-finite"):
        smooth.grid_evaluate(layers, activation="relu", resolution=8)
    with pytest.raises(ValueError, match="non-finite"):
        smooth.level_set(layers, (0, 0), activation="tanh", resolution=8)


def test_a_3d_distribution_as_domain_points_to_the_slice_api():
    """Its (3, 2) box used to be read as a triangle."""
    gm3 = data.blobs(dim=3)
    with pytest.raises(ValueError, match=r"3-D distribution.*directions= \(2, 3\)"):
        partition(_net(), gm3, activation="relu")
    layers3 = [(np.ones((3, 4)), np.zeros(4)), (np.ones((4, 2)), np.zeros(2))]
    with pytest.raises(ValueError, match="3-D distribution"):
        partition(layers3, gm3, activation="relu", directions=np.eye(3)[:2])
    with pytest.raises(ValueError, match="3-D distribution"):
        smooth.grid_evaluate(_net(), gm3, activation="relu", resolution=8)
    # a 2-D distribution keeps working: its box is the domain
    gm2 = data.blobs()
    p = partition(_net(), gm2, activation="relu")
    (xlo, xhi), (ylo, yhi) = gm2.domain
    np.testing.assert_allclose(p.areas.sum(), (xhi - xlo) * (yhi - ylo), rtol=1e-12)


def test_nan_points_are_outside():
    """locate / evaluate at NaN (or inf) coordinates: -1 / NaN as outside points, not
    IndexError."""
    p = partition(_net(), activation="relu")
    U = np.array([[np.nan, 0.0], [0.5, 0.5], [0.0, np.inf], [9.0, 0.0], [np.nan, np.nan]])
    r = p.locate(U)
    assert r[1] >= 0 and np.all(r[[0, 2, 3, 4]] == -1)
    out = p.evaluate(U)
    assert np.isfinite(out[1]).all() and np.isnan(out[[0, 2, 3, 4]]).all()
    np.testing.assert_array_equal(p.evaluate(U[1:2], 0, pre=True), p.evaluate(U, 0, pre=True)[1:2])
    lp = partition_line(_net(), [0.0, 0.0], [1.0, 0.5], (-1.0, 1.0), activation="relu")
    assert np.all(lp.locate([np.nan, 2.0]) == -1) and lp.locate([0.0])[0] >= 0
    assert np.isnan(lp.evaluate([np.nan])).all()


@pytest.mark.parametrize("max_bytes", [np.nan, 0, -1.0, np.inf, "1GB", True])
def test_max_bytes_cannot_disable_the_guard(max_bytes):
    with pytest.raises(ValueError, match=r"max_bytes=.*finite positive number of bytes"):
        partition(_net(), activation="relu", max_bytes=max_bytes)


def test_memory_guard_stops_with_the_estimate_the_limit_and_the_fix():
    """2-400-400-400-3 used to die with a raw MemoryError at 687k regions; the guard stops
    as soon as the estimate passes the limit (here a small one)."""
    rng = np.random.default_rng(0)
    widths = (2, 64, 64, 3)
    layers = [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * 0.5)
              for a, b in zip(widths[:-1], widths[1:])]
    with pytest.raises(ValueError, match=r"needs about [0-9.]+ MiB \([0-9]+ bytes per region "
                                         r"in this layer plus [0-9.]+ [KM]iB for the maps and "
                                         r"patterns of this and earlier layers and the "
                                         r"working chunks\), above max_bytes=20 MiB; pass a "
                                         r"larger max_bytes=.*smaller domain.*max_regions="):
        partition(layers, activation="relu", max_bytes=20 * 2**20)
    assert len(partition(layers, activation="relu", max_bytes=1 << 30)) > 100


def test_region_maps_form_layer_by_layer_and_refuse_what_memory_cannot_hold(monkeypatch):
    """``p.pre`` / ``p.post`` form a layer's per-region maps when it is read: the logits'
    maps of a partition fit where a hidden layer's would not (at 10^6 regions of 2-256^6
    every layer at once is 36 GB), and a layer that does not fit is a MemoryError naming
    the size and the alternatives, not a process killed by the kernel."""
    import sys

    module = sys.modules["toylab.exact.partition"]
    p = partition(_net(), activation="relu")
    logits = 24 * len(p) * 3  # bytes of the logits' maps; the first layer's: 24 * len(p) * 5
    monkeypatch.setattr(module, "default_max_bytes", lambda: logits + 24 * len(p))
    A, c = p.pre[-1]
    assert A.shape == (len(p), 2, 3) and p.post[-1] is p.pre[-1]
    for what in ("pre", "post"):
        with pytest.raises(MemoryError, match=rf"p\.{what}\[0\] would form the affine maps of "
                                              rf"{len(p)} regions x 5 neurons.*p\.evaluate\(U, "
                                              r"0, .*p\.tables\[0\] at rows p\.table_rows"):
            getattr(p, what)[0]
    with pytest.raises(IndexError, match="layer 3 out of range for 3 layers"):
        p.pre[3]
    monkeypatch.undo()
    assert len(p.pre[:-1]) == 2 and p.post[0][0].shape == (len(p), 2, 5)


def test_a_domain_with_a_straight_corner_is_the_same_domain():
    """A polygon listing a point in the middle of an edge (where it does not turn): its
    edge lines there are parallel, so that point is dropped, not used as a vertex."""
    box = partition(_net(), [[-2.0, 2.0], [-1.0, 3.0]], activation="relu")
    poly = np.array([[-2.0, -1.0], [0.5, -1.0], [2.0, -1.0], [2.0, 3.0], [-2.0, 3.0]])
    p = partition(_net(), poly, activation="relu")
    assert len(p) == len(box)
    np.testing.assert_allclose(np.sort(p.areas), np.sort(box.areas), rtol=1e-12, atol=1e-15)
