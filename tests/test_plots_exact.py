"""toylab.plots.exact: figures run, have the expected panels, and show the exact quantities."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from toylab import data, symbolic
from toylab.exact import decision_boundary, folds, partition
from toylab.models import ACTIVATIONS, PIECEWISE_LINEAR
from toylab.plots import exact as pe
from toylab.plots import house_style, save
from toylab.plots.data import box_grid
from toylab.plots.style import RC

SMOOTH = tuple(name for name in ACTIVATIONS if name not in PIECEWISE_LINEAR)


def _net(seed, widths):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)), 0.5 * rng.normal(size=b)) for a, b in zip(widths[:-1], widths[1:])]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    return data.make("blobs")


@pytest.fixture(scope="module")
def relu_partition(blobs):
    return partition(_net(0, (2, 3, 2, 3)), blobs, activation="relu")


@settings(max_examples=50, deadline=None)
@given(arrays(np.int8, st.tuples(st.integers(1, 8), st.integers(1, 40)), elements=st.integers(0, 2)),
       st.data())
def test_neighbouring_patterns_get_different_colours(pattern, draw):
    """Crossing one fold changes one neuron's piece by one: the colour always changes."""
    j = draw.draw(st.integers(0, pattern.shape[1] - 1))
    step = np.zeros_like(pattern)
    step[:, j] = 1
    split = draw.draw(st.integers(0, pattern.shape[1]))  # patterns may span several layers
    before = pe.pattern_colors([pattern[:, :split], pattern[:, split:]])
    after = pe.pattern_colors([(pattern + step)[:, :split], (pattern + step)[:, split:]])
    assert np.all(before != after)
    assert np.all((0 <= before) & (before < len(pe.REGION_PALETTE)))


def test_plot_regions_fills_every_region(relu_partition, tmp_path):
    fig = pe.plot_regions(relu_partition)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (polys,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(polys.get_paths()) == len(relu_partition)
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    assert ax.get_title() == f"{len(relu_partition)} linear regions"
    written = save(fig, tmp_path / "regions")
    assert [p.suffix for p in written] == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in written)


@pytest.mark.parametrize("activation", PIECEWISE_LINEAR)
def test_plot_neuron_grid_panels_show_exact_values_and_folds(blobs, activation):
    p = partition(_net(0, (2, 3, 2, 3)), blobs, activation=activation)
    fig = pe.plot_neuron_grid(p, resolution=30)
    assert len(fig.axes) == 3 + 2 + 2  # panels of both hidden layers + one colour bar each
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert sorted(panels) == ["(0, 0)", "(0, 1)", "(0, 2)", "(1, 0)", "(1, 1)"]
    box = pe._bounding_box(p.domain)
    xs, ys, pts = box_grid(box, 30)
    for l, i in [(0, 2), (1, 1)]:
        ax = panels[f"({l}, {i})"]
        shown = np.asarray(ax.images[0].get_array())
        exact = symbolic.lambdify_neuron(p.layers, (l, i), activation=activation)(pts)
        np.testing.assert_allclose(shown, exact.reshape(len(ys), len(xs)), rtol=1e-12, atol=1e-12)
        (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        np.testing.assert_array_equal(np.array(lines.get_segments()).reshape(-1, 2, 2),
                                      folds(p, (l, i)).reshape(-1, 2, 2))


def test_plot_neuron_grid_one_layer_wraps_rows(blobs):
    p = partition(_net(1, (2, 5, 2)), blobs, activation="hard_tanh")
    fig = pe.plot_neuron_grid(p, layer=0, resolution=20, ncols=3)
    assert len(fig.axes) == 5 + 1
    with pytest.raises(ValueError, match="layer=1 is not a hidden layer"):
        pe.plot_neuron_grid(p, layer=1)


def test_plot_decision_boundary_draws_exact_and_bayes_boundaries(tmp_path):
    dist = data.make("two_gaussians")  # Bayes boundary: the line x1 = 0 (x0 = 0 in code)
    p = partition(_net(2, (2, 4, 2)), dist, activation="relu")
    fig = pe.plot_decision_boundary(p, dist, resolution=80)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    learned = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(learned) == 1
    np.testing.assert_array_equal(np.array(learned[0].get_segments()).reshape(-1, 2, 2),
                                  decision_boundary(p))
    bayes = [ln for ln in ax.lines if ln.get_linestyle() == "--" and len(ln.get_xdata())]
    assert bayes and all(np.max(np.abs(ln.get_xdata())) < 1e-6 for ln in bayes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["network", "Bayes", "class 0", "class 1"]
    tinted = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(tinted) == 2  # one tint per class
    written = save(fig, tmp_path / "decision")
    assert all(p.stat().st_size > 1000 for p in written)


def test_plot_decision_boundary_rejects_slices(blobs):
    p = partition(_net(3, (3, 2, 2)), None, activation="relu",
                  directions=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="own 2-D input plane"):
        pe.plot_decision_boundary(p, blobs)


@pytest.mark.parametrize("activation", SMOOTH)
def test_plot_smooth_neuron_grid(blobs, tmp_path, activation):
    layers = _net(4, (2, 3, 2))
    fig = pe.plot_smooth_neuron_grid(layers, blobs, activation=activation, resolution=24,
                                     level_resolution=24, tol=1e-10)
    assert len(fig.axes) == 3 + 1
    W, b = layers[0]
    for ax in fig.axes:
        if ax.get_title().startswith("(0, "):
            i = int(ax.get_title()[4])
            (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
            pts = np.array(lines.get_segments()).reshape(-1, 2)
            assert len(pts) and np.max(np.abs(pts @ W[:, i] + b[i])) <= 1e-9  # its zero line
    written = save(fig, tmp_path / "smooth")
    assert all(p.stat().st_size > 1000 for p in written)
    with pytest.raises(ValueError, match="no hidden layer"):
        pe.plot_smooth_neuron_grid(_net(0, (2, 2)), activation="tanh")


def test_helpers_draw_in_the_house_style_and_leave_your_rcparams_alone(relu_partition):
    """Inside a helper the house style applies (its fonts); outside, your own settings."""
    with matplotlib.rc_context({"font.size": 13.0, "lines.linewidth": 3.0}):
        before = dict(matplotlib.rcParams)
        fig = pe.plot_regions(relu_partition)
        assert dict(matplotlib.rcParams) == before
        ax = fig.axes[0]
        assert ax.title.get_fontsize() == RC["axes.titlesize"]
        assert ax.xaxis.label.get_fontsize() == RC["axes.labelsize"]
        assert not ax.spines["top"].get_visible()
        with house_style():
            assert matplotlib.rcParams["font.size"] == RC["font.size"]
        assert matplotlib.rcParams["font.size"] == 13.0
