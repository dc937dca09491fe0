"""The pen every motif draws with, and the registry of entity motifs.

Pen draws in box-relative coordinates at the supersampled size, mirrored when the layout says
so. Motif modules (objects, creatures, figures) register their functions with @motif; draw.py
imports them all, so the registry is complete wherever it is read through draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from PIL import ImageDraw

from dataigm.toyworld.layout import Layout
from dataigm.toyworld.words import RGB

if TYPE_CHECKING:
    from dataigm.toyworld.parse import Scene, Thing


class Pen:
    """Draws in box-relative coordinates: (0, 0) top-left of the object box, (1, 1) bottom-right."""

    def __init__(self, draw: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float,
                 flip: bool = False) -> None:
        self.draw, self.x0, self.y0, self.w, self.h, self.flip = draw, x0, y0, w, h, flip

    def p(self, u: float, v: float) -> tuple[float, float]:
        if self.flip:
            u = 1.0 - u
        return (self.x0 + u * self.w, self.y0 + v * self.h)

    def box(self, u0: float, v0: float, u1: float, v1: float) -> list[float]:
        (a, b), (c, d) = self.p(u0, v0), self.p(u1, v1)
        return [min(a, c), min(b, d), max(a, c), max(b, d)]

    def px(self, t: float) -> int:
        return max(1, int(round(t * self.w)))

    def rect(self, u0: float, v0: float, u1: float, v1: float, fill: RGB) -> None:
        self.draw.rectangle(self.box(u0, v0, u1, v1), fill=fill)

    def ellipse(self, u0: float, v0: float, u1: float, v1: float, fill: RGB | None = None,
                outline: RGB | None = None, width: float = 0.0) -> None:
        self.draw.ellipse(self.box(u0, v0, u1, v1), fill=fill, outline=outline,
                          width=self.px(width) if outline else 0)

    def circle(self, u: float, v: float, r: float, fill: RGB | None = None,
               outline: RGB | None = None, width: float = 0.0) -> None:
        self.ellipse(u - r, v - r, u + r, v + r, fill, outline, width)

    def poly(self, pts: Sequence[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon([self.p(u, v) for u, v in pts], fill=fill)

    def line(self, pts: Sequence[tuple[float, float]], fill: RGB, width: float) -> None:
        self.draw.line([self.p(u, v) for u, v in pts], fill=fill, width=self.px(width), joint="curve")

    def pie(self, u0: float, v0: float, u1: float, v1: float, a0: float, a1: float, fill: RGB) -> None:
        if self.flip:   # mirror the angles with the box
            a0, a1 = 180 - a1, 180 - a0
        self.draw.pieslice(self.box(u0, v0, u1, v1), a0, a1, fill=fill)


def shade(c: RGB, f: float) -> RGB:
    """`c` darkened (f < 1) or lightened (f > 1), clipped to 0..255."""
    return tuple(int(max(0, min(255, round(x * f)))) for x in c)  # type: ignore[return-value]


DARK: RGB = (35, 30, 30)   # eyes, tyres, outlines: one near-black for every motif

# The motif registry. Each motif draws inside the unit box of its Pen; the box is the same for
# every motif at a seed. Thing and Scene are quoted: parse reads this registry, so importing parse
# here would be circular (see the TYPE_CHECKING import above).
MotifFn = Callable[[Pen, "Thing", Layout, "Scene"], None]
MOTIFS: dict[str, MotifFn] = {}
ENTITY_MOTIFS: set[str] = set()   # the names in MOTIFS: what a concept can be drawn as


def motif(name: str) -> Callable[[MotifFn], MotifFn]:
    """Decorator: register `fn` as the drawing of the entity motif `name`."""
    def register(fn: MotifFn) -> MotifFn:
        MOTIFS[name] = fn
        ENTITY_MOTIFS.add(name)
        return fn
    return register

