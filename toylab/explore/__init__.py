"""``toylab explore``: the exact playground in the browser (a shell, like :mod:`toylab.cli`).

A local Bokeh server app (:func:`serve`) in which one picks a world and a network, trains it,
and sees exact views: data, density and Bayes boundary, the learned boundary, the exact linear
regions (hover: activation pattern, probability mass, affine map), every hidden neuron with
its exact folds (click: sympy formula, exact mean and maximum), loss and exact population
accuracy, and the Hessian spectrum with each eigenvector's share on the neurons.

Needs the ``explore`` extra (Bokeh): ``pip install -e '.[explore]'``.
"""

from toylab.explore.world import PRESET_PARAMS, load_world, preset_world, transformed


def serve(port: int = 5006, *, open_browser: bool = True, world=None, announce=print) -> None:
    """Run the explorer on ``http://127.0.0.1:port/`` until interrupted; see
    :func:`toylab.explore.server.serve`."""
    from toylab.explore.server import serve as _serve  # Bokeh only when it is used

    _serve(port, open_browser=open_browser, world=world, announce=announce)


__all__ = ["PRESET_PARAMS", "load_world", "preset_world", "serve", "transformed"]
