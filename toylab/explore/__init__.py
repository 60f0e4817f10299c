"""``toylab explore``: the exact playground in the browser (a shell, like :mod:`toylab.cli`).

A local Bokeh server app (:func:`serve`) in which one picks a world (a preset, a world file, or
points uploaded as a CSV: an empirical world, :func:`toylab.explore.world.points_from_csv`)
and a network, trains it or a seed ensemble (1-8 seeds in one compiled call; curves of every
seed, views of the chosen one), and sees exact views: data, density and Bayes boundary, the
learned boundary, the exact linear regions (hover: activation pattern, probability mass, affine
map), every hidden neuron with its exact folds (click: sympy formula, exact mean and maximum),
loss and exact population accuracy, and the Hessian spectrum with each eigenvector's share on
the neurons. Any plot can be saved as PNG or SVG, the shown net as JSON (:func:`load_net`).

In a notebook, :func:`show` renders the same views (minus training) of a trained net inline;
:func:`export_html` writes them as one self-contained HTML file that opens offline.

Needs the ``explore`` extra (Bokeh): ``pip install -e '.[explore]'``.
"""

import importlib.util

from toylab.explore.world import (
    PRESET_PARAMS, load_net, load_world, net_json, preset_world, transformed,
)


def serve(port: int = 5006, *, open_browser: bool = True, world=None, announce=print) -> None:
    """Run the explorer on ``http://127.0.0.1:port/`` until interrupted; see
    :func:`toylab.explore.server.serve`."""
    from toylab.explore.server import serve as _serve  # Bokeh only when it is used

    _serve(port, open_browser=open_browser, world=world, announce=announce)


def main(args) -> int:
    """``toylab explore [--port N] [--no-browser] [--world FILE]`` (``args`` from the CLI)."""
    world = None if args.world is None else load_world(args.world)
    if importlib.util.find_spec("bokeh") is None:
        raise ValueError("toylab explore needs Bokeh: pip install -e '.[explore]'")
    serve(args.port, open_browser=not args.no_browser, world=world)
    return 0


def show(net, dist, **kwargs):
    """The exact views of a trained ``net`` under ``dist`` inline in a notebook; see
    :func:`toylab.explore.static.show`."""
    from toylab.explore.static import show as _show

    return _show(net, dist, **kwargs)


def export_html(net, dist, path, **kwargs):
    """Write the exact views of ``net`` under ``dist`` as one self-contained HTML file; see
    :func:`toylab.explore.static.export_html`."""
    from toylab.explore.static import export_html as _export

    return _export(net, dist, path, **kwargs)


__all__ = ["PRESET_PARAMS", "export_html", "load_net", "load_world", "main", "net_json",
           "preset_world", "serve", "show", "transformed"]
