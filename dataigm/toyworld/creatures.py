"""Entity motifs for creatures and characters: animals, toys, robots, dragons, the mouse-eared
cartoon character.

Each function draws one entity in its Pen's unit box. A colour named right before the creature
(`t.tint`) overrides the seed's choice of fur, body or metal colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataigm.toyworld.layout import Layout, pick
from dataigm.toyworld.pen import DARK, Pen, motif, shade

if TYPE_CHECKING:
    from dataigm.toyworld.parse import Scene, Thing


@motif("cat")
def _cat(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or pick([(230, 140, 50), (120, 120, 125), (40, 38, 38), (235, 230, 220)], lay.u[0])
    p.line([(0.72, 0.88), (0.9, 0.75), (0.88, 0.5)], fur, 0.06)           # tail
    p.ellipse(0.22, 0.5, 0.78, 0.97, fill=fur)                             # body
    p.poly([(0.32, 0.28), (0.36, 0.06), (0.47, 0.2)], fur)                 # ears
    p.poly([(0.68, 0.28), (0.64, 0.06), (0.53, 0.2)], fur)
    p.circle(0.5, 0.33, 0.19, fill=fur)                                    # head
    for u in (0.43, 0.57):
        p.circle(u, 0.3, 0.035, fill=(120, 190, 60))
        p.circle(u, 0.3, 0.015, fill=DARK)
    p.poly([(0.47, 0.38), (0.53, 0.38), (0.5, 0.41)], (230, 120, 140))
    for dv in (-0.02, 0.02):                                               # whiskers
        p.line([(0.44, 0.4 + dv), (0.26, 0.38 + 2 * dv)], (250, 250, 250), 0.008)
        p.line([(0.56, 0.4 + dv), (0.74, 0.38 + 2 * dv)], (250, 250, 250), 0.008)


@motif("dog")
def _dog(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or pick([(150, 100, 55), (215, 180, 120), (60, 45, 35), (240, 235, 225)], lay.u[0])
    p.line([(0.78, 0.6), (0.92, 0.45)], fur, 0.05)
    p.ellipse(0.25, 0.48, 0.85, 0.82, fill=fur)
    for u in (0.32, 0.45, 0.65, 0.78):
        p.rect(u - 0.03, 0.75, u + 0.03, 0.97, fur)
    p.circle(0.3, 0.35, 0.17, fill=fur)
    p.ellipse(0.05, 0.38, 0.25, 0.52, fill=shade(fur, 1.1))               # snout
    p.circle(0.07, 0.42, 0.03, fill=DARK)
    p.ellipse(0.34, 0.22, 0.46, 0.5, fill=shade(fur, 0.6))                # floppy ear
    p.circle(0.25, 0.31, 0.025, fill=DARK)


@motif("bird")
def _bird(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or pick([(70, 110, 200), (200, 60, 40), (120, 90, 60), (240, 200, 40)], lay.u[0])
    p.poly([(0.78, 0.55), (0.98, 0.45), (0.98, 0.68)], shade(body, 0.7))  # tail
    p.ellipse(0.3, 0.4, 0.85, 0.72, fill=body)
    p.circle(0.3, 0.38, 0.13, fill=body)
    p.poly([(0.17, 0.36), (0.04, 0.41), (0.17, 0.44)], (240, 160, 30))     # beak
    p.circle(0.27, 0.35, 0.025, fill=DARK)
    p.poly([(0.45, 0.5), (0.7, 0.52), (0.62, 0.18)], shade(body, 0.75))   # wing
    p.line([(0.5, 0.7), (0.48, 0.85)], (200, 140, 40), 0.015)
    p.line([(0.62, 0.7), (0.62, 0.85)], (200, 140, 40), 0.015)


@motif("duck")
def _duck(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or pick([(250, 250, 245), (245, 215, 60)], lay.u[0])
    p.ellipse(0.2, 0.5, 0.85, 0.9, fill=body)
    p.circle(0.35, 0.35, 0.16, fill=body)
    p.ellipse(0.05, 0.36, 0.26, 0.46, fill=(245, 150, 30))                 # bill
    p.circle(0.33, 0.3, 0.03, fill=DARK)
    p.rect(0.35, 0.56, 0.7, 0.72, (40, 70, 160))                           # sailor shirt
    p.line([(0.45, 0.9), (0.42, 0.98)], (245, 150, 30), 0.04)
    p.line([(0.62, 0.9), (0.65, 0.98)], (245, 150, 30), 0.04)


@motif("mouse")
def _mouse(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or pick([(140, 135, 130), (170, 140, 110)], lay.u[0])
    p.line([(0.8, 0.82), (0.95, 0.7), (0.98, 0.9)], (200, 150, 150), 0.015)   # thin tail
    p.ellipse(0.3, 0.55, 0.85, 0.92, fill=fur)
    p.poly([(0.35, 0.6), (0.05, 0.76), (0.38, 0.85)], fur)                 # pointed snout
    p.circle(0.38, 0.58, 0.07, fill=fur)
    p.circle(0.38, 0.58, 0.04, fill=(230, 170, 170))
    p.circle(0.2, 0.7, 0.018, fill=DARK)


@motif("mouse_ears")
def _mickey(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    black = (20, 20, 22)
    p.circle(0.22, 0.14, 0.14, fill=black)                                 # big round ears
    p.circle(0.78, 0.14, 0.14, fill=black)
    p.circle(0.5, 0.36, 0.22, fill=black)                                  # head
    p.ellipse(0.33, 0.32, 0.67, 0.58, fill=(245, 215, 180))                # face
    p.ellipse(0.46, 0.4, 0.54, 0.46, fill=black)                           # nose
    p.circle(0.44, 0.34, 0.025, fill=black)
    p.circle(0.56, 0.34, 0.025, fill=black)
    p.rect(0.38, 0.58, 0.62, 0.7, black)                                   # torso
    p.rect(0.34, 0.7, 0.66, 0.84, (215, 25, 30))                           # red shorts
    for u in (0.44, 0.56):
        p.ellipse(u - 0.025, 0.74, u + 0.025, 0.79, fill=(250, 250, 250))  # buttons
    p.line([(0.4, 0.84), (0.4, 0.94)], black, 0.04)
    p.line([(0.6, 0.84), (0.6, 0.94)], black, 0.04)
    p.ellipse(0.3, 0.92, 0.46, 0.99, fill=(250, 200, 30))                  # yellow shoes
    p.ellipse(0.54, 0.92, 0.7, 0.99, fill=(250, 200, 30))
    p.circle(0.26, 0.64, 0.05, fill=(250, 250, 250))                       # white gloves
    p.circle(0.74, 0.64, 0.05, fill=(250, 250, 250))


@motif("teddy_bear")
def _teddy(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or pick([(150, 100, 60), (190, 140, 90)], lay.u[0])
    p.circle(0.3, 0.14, 0.08, fill=fur)
    p.circle(0.7, 0.14, 0.08, fill=fur)
    p.ellipse(0.25, 0.48, 0.75, 0.95, fill=fur)
    p.circle(0.5, 0.3, 0.2, fill=fur)
    p.ellipse(0.42, 0.32, 0.58, 0.44, fill=(230, 200, 160))
    p.circle(0.5, 0.35, 0.025, fill=DARK)
    p.circle(0.2, 0.6, 0.08, fill=fur)
    p.circle(0.8, 0.6, 0.08, fill=fur)


@motif("robot")
def _robot(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    metal = t.tint or pick([(160, 165, 175), (120, 130, 150)], lay.u[0])
    p.line([(0.5, 0.02), (0.5, 0.12)], DARK, 0.02)
    p.circle(0.5, 0.03, 0.03, fill=(230, 40, 40))
    p.rect(0.32, 0.12, 0.68, 0.36, metal)
    p.rect(0.38, 0.2, 0.45, 0.26, (60, 200, 240))
    p.rect(0.55, 0.2, 0.62, 0.26, (60, 200, 240))
    p.rect(0.25, 0.4, 0.75, 0.75, shade(metal, 0.85))
    p.rect(0.1, 0.42, 0.22, 0.7, metal)
    p.rect(0.78, 0.42, 0.9, 0.7, metal)
    p.rect(0.32, 0.75, 0.44, 0.97, metal)
    p.rect(0.56, 0.75, 0.68, 0.97, metal)


@motif("dragon")
def _dragon(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    scale = t.tint or pick([(60, 140, 60), (150, 40, 40), (70, 70, 140)], lay.u[0])
    p.poly([(0.4, 0.5), (0.55, 0.1), (0.7, 0.5)], shade(scale, 0.7))      # wing
    p.line([(0.75, 0.8), (0.95, 0.9), (0.98, 0.7)], scale, 0.06)          # tail
    p.ellipse(0.3, 0.5, 0.8, 0.9, fill=scale)
    p.line([(0.38, 0.6), (0.22, 0.3)], scale, 0.09)                       # neck
    p.ellipse(0.05, 0.2, 0.3, 0.36, fill=scale)
    p.circle(0.15, 0.25, 0.02, fill=(250, 220, 40))
    for u in (0.45, 0.55, 0.65):
        p.poly([(u - 0.04, 0.52), (u, 0.42), (u + 0.04, 0.52)], (240, 200, 60))
