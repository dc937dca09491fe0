"""Draw one Thing: a registered entity motif, a hashed portrait or a hashed glyph.

Importing this module imports every motif module, so MOTIFS and ENTITY_MOTIFS are complete here;
read them through this module (parse does), never straight from pen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The motif modules register their drawings with @motif on import; nothing else is used from them.
from dataigm.toyworld import creatures, figures, objects  # noqa: F401
from dataigm.toyworld.layout import Layout
from dataigm.toyworld.pen import ENTITY_MOTIFS, MOTIFS, Pen

if TYPE_CHECKING:
    from dataigm.toyworld.parse import Scene, Thing

__all__ = ["ENTITY_MOTIFS", "MOTIFS", "draw_thing"]


def draw_thing(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    """Draw `t` in the box of `p`."""
    if t.motif == "portrait":
        figures.named_portrait(p, t, lay)
    elif t.motif == "glyph":
        figures.glyph(p, t.key)
    else:
        MOTIFS[t.motif](p, t, lay, sc)
