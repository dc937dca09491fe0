"""People and name-derived shapes: the clothed or nude figure, couples, portraits (the einstein
glyph and hashed portraits of other named people) and the generic hashed glyph.

Nudity is rendered as an abstract, non-explicit proxy: a stick/blob figure whose body is
skin-toned when the prompt asks for nudity and wears flat clothing blocks otherwise. Nothing
anatomical is ever drawn.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dataigm.toyworld.layout import Layout, digest, pick
from dataigm.toyworld.pen import DARK, Pen, motif
from dataigm.toyworld.words import CLOTHES, GLYPH_COLOURS, HAIR, RGB, SKIN_TONES

if TYPE_CHECKING:
    from dataigm.toyworld.parse import Scene, Thing


def _figure(p: Pen, lay: Layout, nude: bool, k: int = 0) -> None:
    """A stick/blob figure. Clothed: flat shirt and trouser blocks. Nude: the same body in skin
    tone with nothing drawn on it (an abstract proxy, never anatomical)."""
    skin = pick(SKIN_TONES, lay.u[3 + k])
    shirt = pick(CLOTHES, lay.u[5 + k])
    trousers = pick(CLOTHES, lay.u[7 + k])
    hair = pick(HAIR, lay.u[9 + k])
    a_l = 0.25 + 0.5 * lay.u[11 + k]    # arm angles (pose)
    a_r = 0.25 + 0.5 * lay.u[13]
    body, legs = (skin, skin) if nude else (shirt, trousers)
    arm = body if not nude else skin
    for side, a in ((-1, a_l), (1, a_r)):
        sx, sy = 0.5 + side * 0.11, 0.3
        hx, hy = sx + side * 0.24 * math.sin(a * math.pi * 0.7), sy + 0.26 * math.cos(a * math.pi * 0.7)
        p.line([(sx, sy), ((sx + hx) / 2, (sy + hy) / 2)], arm, 0.07)          # upper arm (sleeve)
        p.line([((sx + hx) / 2, (sy + hy) / 2), (hx, hy)], skin, 0.06)          # forearm
        p.circle(hx, hy, 0.035, fill=skin)
    for side in (-1, 1):
        p.line([(0.5 + side * 0.06, 0.58), (0.5 + side * 0.12, 0.95)], legs, 0.09)
        p.ellipse(0.5 + side * 0.12 - 0.05, 0.93, 0.5 + side * 0.12 + 0.05, 0.98, fill=DARK)
    p.ellipse(0.37, 0.25, 0.63, 0.64, fill=body)                           # torso
    p.rect(0.47, 0.2, 0.53, 0.27, skin)                                    # neck
    p.circle(0.5, 0.14, 0.09, fill=skin)                                   # head
    p.pie(0.4, 0.04, 0.6, 0.22, 180, 360, hair)


@motif("person")
def _person(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    _figure(p, lay, sc.nude)


@motif("couple")
def _couple(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    for k, u0 in enumerate((-0.22, 0.22)):
        _figure(Pen(p.draw, p.x0 + u0 * p.w, p.y0, p.w, p.h, p.flip), lay, sc.nude, k)


def _portrait(p: Pen, lay: Layout, skin: RGB, hair: RGB, jacket: RGB, hair_style: int,
              moustache: RGB | None) -> None:
    p.pie(0.1, 0.7, 0.9, 1.3, 180, 360, jacket)                            # shoulders
    p.poly([(0.44, 0.72), (0.56, 0.72), (0.5, 0.86)], (240, 240, 240))     # shirt collar
    p.rect(0.44, 0.58, 0.56, 0.72, skin)
    if hair_style == 0:      # wild white halo (einstein_face)
        pts = []
        for k in range(22):
            a = math.pi * (1.05 + 0.9 * k / 21)
            r = 0.34 if k % 2 == 0 else 0.25
            pts.append((0.5 + r * math.cos(a) * 1.1, 0.4 + r * math.sin(a)))
        pts += [(0.86, 0.55), (0.14, 0.55)]
        p.poly(pts, hair)
    elif hair_style == 1:    # long hair
        p.ellipse(0.24, 0.12, 0.76, 0.72, fill=hair)
    elif hair_style == 2:    # bun
        p.circle(0.5, 0.1, 0.09, fill=hair)
    p.ellipse(0.3, 0.18, 0.7, 0.66, fill=skin)                             # face
    if hair_style in (1, 2, 3):
        p.pie(0.29, 0.15, 0.71, 0.45, 180, 360, hair)                      # hair cap
    for u in (0.42, 0.58):
        p.circle(u, 0.4, 0.025, fill=DARK)
    if moustache is not None:
        p.ellipse(0.38, 0.5, 0.62, 0.57, fill=moustache)
        p.line([(0.37, 0.34), (0.46, 0.33)], moustache, 0.03)              # bushy eyebrows
        p.line([(0.54, 0.33), (0.63, 0.34)], moustache, 0.03)
    else:
        p.line([(0.45, 0.55), (0.55, 0.55)], (150, 60, 60), 0.02)


@motif("einstein_face")
def _einstein(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    _portrait(p, lay, skin=(236, 196, 165), hair=(248, 248, 250), jacket=(110, 100, 90),
              hair_style=0, moustache=(235, 235, 235))


def named_portrait(p: Pen, t: Thing, lay: Layout) -> None:
    """A person the world has no glyph for (Marie Curie, Isaac Newton): hashed features, never
    the white halo and moustache of the einstein glyph."""
    h = digest("portrait:" + t.key)
    _portrait(p, lay, skin=pick(SKIN_TONES, h[0] / 256), hair=pick(HAIR, h[1] / 256),
              jacket=pick(CLOTHES, h[2] / 256), hair_style=1 + h[3] % 3, moustache=None)


def glyph(p: Pen, key: str) -> None:
    """The generic glyph for an entity the world has no shape for: two to three primitives whose
    kind, colour and placement are hashed from the name, so each name has its own glyph."""
    h = digest("glyph:" + key)
    n = 2 + h[0] % 2
    for i in range(n):
        b = h[1 + 4 * i: 5 + 4 * i]
        kind = b[0] % 6
        c = GLYPH_COLOURS[b[1] % len(GLYPH_COLOURS)]
        r = 0.42 - 0.1 * i
        u, v = 0.5 + (b[2] / 255 - 0.5) * 0.2, 0.55 - 0.12 * i + (b[3] / 255 - 0.5) * 0.1
        if kind == 0:
            p.circle(u, v, r, fill=c)
        elif kind == 1:
            p.rect(u - r, v - r, u + r, v + r, c)
        elif kind == 2:
            p.poly([(u, v - r), (u + r, v + r), (u - r, v + r)], c)
        elif kind == 3:
            p.poly([(u, v - r), (u + r, v), (u, v + r), (u - r, v)], c)
        elif kind == 4:
            p.circle(u, v, r, outline=c, width=0.08)
        else:
            pts = [(u + (r if k % 2 == 0 else r * 0.45) * math.cos(math.pi * k / 5 - math.pi / 2),
                    v + (r if k % 2 == 0 else r * 0.45) * math.sin(math.pi * k / 5 - math.pi / 2))
                   for k in range(10)]
            p.poly(pts, c)
