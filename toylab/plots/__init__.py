"""Paper figures in one house style.

Every figure goes through :func:`figure` (sizes, fonts) and :func:`save` (PDF + PNG,
written atomically). Colours come from :data:`PALETTE` (Okabe & Ito 2008, colour-blind
safe); continuous maps use :data:`SEQUENTIAL` (cividis) and :data:`DIVERGING` (a
colour-blind-safe blue-orange map centred on zero).
"""

from toylab.plots.style import (
    DIVERGING,
    PALETTE,
    SEQUENTIAL,
    class_colors,
    figure,
    save,
)

__all__ = ["DIVERGING", "PALETTE", "SEQUENTIAL", "class_colors", "figure", "save"]
