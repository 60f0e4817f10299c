"""Paper figures in one house style.

Every figure goes through :func:`figure` (sizes, fonts) and :func:`save` (PDF + PNG,
written atomically). Colours come from :data:`PALETTE` (Okabe & Ito 2008, colour-blind
safe); continuous maps use :data:`SEQUENTIAL` (cividis) and :data:`DIVERGING` (a
colour-blind-safe blue-orange map centred on zero).

The style is applied inside each helper (``matplotlib.rc_context``), never globally; wrap your
own drawing on a :func:`figure` in ``with house_style():`` to match it.
"""

from toylab.plots.style import (
    DIVERGING,
    PALETTE,
    SEQUENTIAL,
    class_colors,
    figure,
    house_style,
    save,
    save_all,
    styled,
)

__all__ = [
    "DIVERGING", "PALETTE", "SEQUENTIAL", "class_colors", "figure", "house_style", "save", "save_all", "styled",
]
