"""The explorer's views of one trained network as a self-contained page: for notebooks
(:func:`show`) and for files that open offline (:func:`export_html`).

No server: the regions' hover data and every hidden neuron's formula, exact mean and maximum
are computed here and embedded; a click on a neuron shows its precomputed details through a
small JavaScript callback. BokehJS (and its MathJax bundle) is inlined, so the page needs no
network. Nothing global is changed (no ``output_notebook``, no matplotlib state): the HTML is
built with ``bokeh.embed.file_html`` and handed to Jupyter as an ``<iframe srcdoc=...>``.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from toylab import exact, symbolic
from toylab.data import GaussianMixture
from toylab.explore.views import MAX_REGIONS, NeuronDetail, net_view, world_view
from toylab.models import as_layers

SHOW_JS = """
const i = tiles.selected.indices;
if (i.length) {
  formula.text = tiles.data.formula[i[0]];
  numbers.text = tiles.data.numbers[i[0]];
}
"""


def _details(view, dist: GaussianMixture) -> list[NeuronDetail]:
    """:class:`NeuronDetail` of every hidden neuron (one window partition for all)."""
    p = view.partition
    window = exact.partition(p.layers, dist.domain, activation=p.activation,
                             max_regions=MAX_REGIONS)
    means = view.mean, view.mean_bound
    out = []
    for k, neuron in enumerate(map(tuple, view.neurons)):
        expr = symbolic.neuron_expression(p.layers, neuron, activation=p.activation)
        ext = exact.neuron_extrema(window, neuron)
        out.append(NeuronDetail((int(neuron[0]), int(neuron[1])), symbolic.latex(expr),
                                float(means[0][k]), float(means[1][k]), ext.max, ext.argmax))
    return out


def layout(net, dist: GaussianMixture, *, activation: str | None = None, n_points: int = 600,
           seed: int = 0, title: str | None = None):
    """The Bokeh layout of ``net``'s exact views under ``dist`` (world, regions, neurons).

    Args:
        net: an :class:`~toylab.models.MLP` or layer list with 2 inputs and a piecewise-linear
            activation (``activation=`` for a layer list).
        dist: 2-D :class:`~toylab.data.GaussianMixture`.
        n_points, seed: the sample drawn for display.
        title: heading of the page.
    """
    from bokeh.layouts import column, row
    from bokeh.models import CustomJS, Div

    from toylab.explore.figures import NetFigures, detail_html

    layers, name = as_layers(net, activation, dtype=np.float64)
    sample = dist.sample(seed, n_points)
    wv = world_view(dist, sample.X, sample.y)
    view = net_view(layers, name, dist)
    figs = NetFigures()
    figs.draw_world(wv, dist.n_classes)
    figs.draw_net(view, wv.box, dist.n_classes)
    texts = [detail_html(d) for d in _details(view, dist)]
    figs.src_tiles.data.update(formula=[t[0] for t in texts], numbers=[t[1] for t in texts])
    # open on the first neuron: its formula is also what makes Bokeh inline its MathJax bundle
    figs.src_tiles.selected.indices = [0]
    figs.w_formula.text, figs.w_numbers.text = texts[0]
    figs.src_tiles.selected.js_on_change("indices", CustomJS(
        args={"tiles": figs.src_tiles, "formula": figs.w_formula, "numbers": figs.w_numbers},
        code=SHOW_JS))
    widths = "-".join(str(np.shape(W)[0]) for W, _ in layers) + f"-{np.shape(layers[-1][0])[1]}"
    acc = view.accuracy.value
    heading = Div(text=(f"<b>{html.escape(title or 'toylab: exact views')}</b>: a {widths} "
                        f"{name} net on {html.escape(dist.name)}; {len(view.polygons)} linear "
                        f"regions, exact population accuracy {acc:.6f} (Bayes "
                        f"{1 - wv.bayes_error:.6f})"), width=900, disable_math=True)
    return column(heading, row(figs.f_world, figs.f_regions,
                               column(figs.f_neurons, figs.w_formula, figs.w_numbers)))


def page(net, dist: GaussianMixture, **kwargs) -> str:
    """One self-contained HTML page (BokehJS inlined) of :func:`layout`."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return file_html(layout(net, dist, **kwargs), INLINE, title=kwargs.get("title") or "toylab")


def export_html(net, dist: GaussianMixture, path, **kwargs) -> Path:
    """Write :func:`page` to ``path`` (opens offline from disk); returns the path."""
    path = Path(path)
    path.write_text(page(net, dist, **kwargs), encoding="utf-8")
    return path


class Shown:
    """What :func:`show` returns: Jupyter renders it inline; ``.html`` is the page."""

    def __init__(self, html_page: str, height: int):
        self.html = html_page
        self.height = height

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" width="100%" '
                f'height="{self.height}" style="border: none"></iframe>')


def show(net, dist: GaussianMixture, **kwargs) -> Shown:
    """Exact views of ``net`` under ``dist`` inline in a notebook (see :func:`layout` for the
    arguments). Changes no global state; ``show(...).html`` is the standalone page."""
    return Shown(page(net, dist, **kwargs), height=560)
