"""Entity motifs for things: buildings, sky objects, vehicles, furniture, plants, still lifes.

Each function draws one entity in its Pen's unit box. A colour named right before the object
(`t.tint`) overrides the seed's choice of main colour.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dataigm.toyworld.layout import Layout, pick
from dataigm.toyworld.pen import DARK, Pen, motif, shade
from dataigm.toyworld.words import SKIN_TONES

if TYPE_CHECKING:
    from dataigm.toyworld.parse import Scene, Thing


@motif("church")
def _church(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    wall = t.tint or pick([(236, 232, 222), (170, 165, 155), (222, 205, 170), (200, 190, 175)], lay.u[0])
    roof = pick([(140, 45, 40), (70, 75, 90), (110, 70, 45)], lay.u[1])
    p.rect(0.34, 0.52, 0.94, 0.96, wall)                                   # nave
    p.poly([(0.31, 0.53), (0.97, 0.53), (0.64, 0.33)], roof)                # nave roof
    p.rect(0.10, 0.30, 0.34, 0.96, shade(wall, 0.93))                     # bell tower
    p.poly([(0.07, 0.31), (0.37, 0.31), (0.22, 0.07)], roof)                # spire
    p.line([(0.22, 0.0), (0.22, 0.09)], (215, 180, 60), 0.025)              # cross
    p.line([(0.18, 0.03), (0.26, 0.03)], (215, 180, 60), 0.025)
    p.circle(0.22, 0.40, 0.04, fill=(60, 60, 70))                          # belfry opening
    p.rect(0.17, 0.80, 0.27, 0.96, (80, 50, 35))                           # arched door
    p.circle(0.22, 0.80, 0.05, fill=(80, 50, 35))
    for u in (0.46, 0.62, 0.78):                                           # arched windows
        p.rect(u - 0.035, 0.66, u + 0.035, 0.82, (70, 110, 170))
        p.circle(u, 0.66, 0.035, fill=(70, 110, 170))


@motif("parachute")
def _parachute(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or pick([(220, 40, 40), (240, 140, 20), (30, 90, 200), (40, 170, 80), (230, 200, 30)], lay.u[0])
    other = pick([(245, 245, 245), (250, 220, 60), (30, 30, 120)], lay.u[1])
    for i in range(6):                                                     # gored canopy
        p.pie(0.02, 0.02, 0.98, 0.66, 180 + 30 * i, 210 + 30 * i, main if i % 2 == 0 else other)
    for u in (0.03, 0.25, 0.5, 0.75, 0.97):                                # suspension lines
        p.line([(u, 0.34), (0.5, 0.74)], (60, 60, 60), 0.012)
    skin = pick(SKIN_TONES, lay.u[2])
    p.circle(0.5, 0.76, 0.035, fill=skin)                                  # tiny jumper
    p.line([(0.5, 0.79), (0.5, 0.88)], (40, 40, 60), 0.03)
    p.line([(0.5, 0.88), (0.45, 0.97)], (40, 40, 60), 0.022)
    p.line([(0.5, 0.88), (0.55, 0.97)], (40, 40, 60), 0.022)
    p.line([(0.44, 0.78), (0.5, 0.82), (0.56, 0.78)], (40, 40, 60), 0.02)


@motif("umbrella")
def _umbrella(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or pick([(30, 30, 40), (180, 30, 60), (40, 60, 160), (230, 190, 30)], lay.u[0])
    p.pie(0.05, 0.15, 0.95, 0.75, 180, 360, main)
    for u in (0.2, 0.35, 0.5, 0.65, 0.8):                                  # scalloped hem
        p.circle(u + 0.075, 0.45, 0.075, fill=main)
    p.line([(0.5, 0.08), (0.5, 0.88)], (70, 60, 50), 0.03)
    p.line([(0.5, 0.88), (0.5, 0.92), (0.56, 0.96), (0.62, 0.92)], (70, 60, 50), 0.03)


@motif("hot_air_balloon")
def _balloon(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or pick([(220, 50, 40), (240, 160, 30), (60, 120, 200), (140, 60, 160)], lay.u[0])
    p.poly([(0.32, 0.55), (0.68, 0.55), (0.58, 0.72), (0.42, 0.72)], shade(main, 0.8))
    p.ellipse(0.18, 0.0, 0.82, 0.66, fill=main)
    for u in (0.32, 0.5, 0.68):                                            # vertical stripes
        p.ellipse(u - 0.05, 0.01, u + 0.05, 0.65, fill=(250, 230, 120))
    p.line([(0.43, 0.72), (0.45, 0.84)], (60, 50, 40), 0.012)
    p.line([(0.57, 0.72), (0.55, 0.84)], (60, 50, 40), 0.012)
    p.rect(0.43, 0.84, 0.57, 0.96, (130, 85, 45))                          # basket


@motif("kite")
def _kite(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or pick([(230, 50, 50), (250, 200, 30), (40, 150, 210), (60, 180, 90)], lay.u[0])
    p.poly([(0.5, 0.0), (0.8, 0.3), (0.5, 0.72), (0.2, 0.3)], main)
    p.poly([(0.5, 0.0), (0.8, 0.3), (0.5, 0.3)], shade(main, 0.75))
    p.poly([(0.5, 0.72), (0.2, 0.3), (0.5, 0.3)], shade(main, 0.75))
    p.line([(0.5, 0.72), (0.42, 0.8), (0.55, 0.88), (0.45, 0.98)], (60, 60, 60), 0.012)
    for u, v in ((0.42, 0.8), (0.55, 0.88)):
        p.poly([(u - 0.04, v - 0.03), (u + 0.04, v + 0.03), (u + 0.04, v - 0.03), (u - 0.04, v + 0.03)],
               (240, 240, 240))


@motif("airplane")
def _airplane(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or pick([(235, 235, 240), (200, 200, 210), (40, 70, 150)], lay.u[0])
    p.poly([(0.42, 0.48), (0.62, 0.48), (0.45, 0.9), (0.35, 0.9)], shade(body, 0.8))   # wings
    p.poly([(0.42, 0.45), (0.62, 0.45), (0.45, 0.1), (0.35, 0.1)], shade(body, 0.85))
    p.poly([(0.82, 0.46), (0.95, 0.2), (0.99, 0.2), (0.95, 0.48)], shade(body, 0.8))  # tail fin
    p.ellipse(0.02, 0.4, 0.98, 0.56, fill=body)                                         # fuselage
    for u in np.linspace(0.15, 0.75, 7):
        p.circle(float(u), 0.46, 0.015, fill=(60, 90, 140))
    p.ellipse(0.02, 0.43, 0.09, 0.49, fill=(60, 90, 140))


@motif("motorcycle")
def _motorcycle(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or pick([(200, 30, 30), (30, 30, 35), (40, 80, 180), (240, 150, 20)], lay.u[0])
    for u in (0.2, 0.8):
        p.circle(u, 0.75, 0.17, outline=DARK, width=0.06)
        p.circle(u, 0.75, 0.04, fill=(150, 150, 150))
    p.line([(0.2, 0.75), (0.42, 0.55), (0.68, 0.55), (0.8, 0.75)], (120, 120, 125), 0.04)
    p.poly([(0.38, 0.45), (0.7, 0.45), (0.66, 0.62), (0.42, 0.62)], body)   # tank/engine
    p.rect(0.22, 0.42, 0.45, 0.48, DARK)                                    # seat
    p.line([(0.7, 0.45), (0.8, 0.3), (0.72, 0.26)], DARK, 0.03)            # handlebar
    p.circle(0.84, 0.36, 0.04, fill=(250, 240, 150))


@motif("bicycle")
def _bicycle(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    frame = t.tint or pick([(30, 120, 200), (200, 40, 40), (40, 40, 40)], lay.u[0])
    for u in (0.22, 0.78):
        p.circle(u, 0.72, 0.2, outline=DARK, width=0.025)
    p.line([(0.22, 0.72), (0.45, 0.72), (0.7, 0.45), (0.38, 0.45), (0.22, 0.72)], frame, 0.03)
    p.line([(0.45, 0.72), (0.36, 0.38)], frame, 0.03)
    p.line([(0.7, 0.45), (0.78, 0.72)], frame, 0.03)
    p.rect(0.3, 0.34, 0.42, 0.38, DARK)
    p.line([(0.7, 0.45), (0.68, 0.32), (0.76, 0.3)], DARK, 0.025)


@motif("car")
def _car(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or pick([(200, 30, 30), (40, 80, 180), (230, 230, 235), (40, 40, 45)], lay.u[0])
    p.poly([(0.25, 0.5), (0.35, 0.3), (0.68, 0.3), (0.78, 0.5)], shade(body, 0.9))
    p.rect(0.33, 0.34, 0.49, 0.49, (170, 210, 235))
    p.rect(0.53, 0.34, 0.7, 0.49, (170, 210, 235))
    p.rect(0.05, 0.5, 0.95, 0.75, body)
    for u in (0.25, 0.75):
        p.circle(u, 0.76, 0.11, fill=DARK)
        p.circle(u, 0.76, 0.04, fill=(170, 170, 170))


@motif("boat")
def _boat(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    hull = t.tint or pick([(150, 60, 40), (40, 60, 120), (235, 235, 235)], lay.u[0])
    p.line([(0.5, 0.05), (0.5, 0.72)], (90, 60, 40), 0.025)
    p.poly([(0.52, 0.08), (0.52, 0.66), (0.9, 0.66)], (245, 240, 225))
    p.poly([(0.48, 0.15), (0.48, 0.66), (0.18, 0.66)], (235, 225, 205))
    p.poly([(0.05, 0.72), (0.95, 0.72), (0.8, 0.92), (0.2, 0.92)], hull)


@motif("chair")
def _chair(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    wood = t.tint or pick([(140, 90, 50), (95, 60, 35), (190, 150, 100)], lay.u[0])
    p.rect(0.28, 0.08, 0.36, 0.95, wood)                                   # back legs + back
    p.rect(0.64, 0.08, 0.72, 0.95, wood)
    for v in (0.14, 0.26, 0.38):
        p.rect(0.28, v, 0.72, v + 0.05, wood)
    p.rect(0.22, 0.52, 0.8, 0.6, shade(wood, 1.15))                       # seat
    p.rect(0.24, 0.6, 0.3, 0.97, shade(wood, 0.85))                       # front legs
    p.rect(0.72, 0.6, 0.78, 0.97, shade(wood, 0.85))


@motif("castle")
def _castle(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    stone = t.tint or pick([(150, 145, 140), (175, 160, 135), (120, 115, 110)], lay.u[0])
    p.rect(0.2, 0.45, 0.8, 0.96, stone)
    for u in np.arange(0.2, 0.8, 0.1):                                     # crenellations
        p.rect(float(u), 0.39, float(u) + 0.05, 0.45, stone)
    for u0 in (0.02, 0.76):                                                # two square towers
        p.rect(u0, 0.25, u0 + 0.22, 0.96, shade(stone, 0.9))
        for k in range(3):
            p.rect(u0 + k * 0.08, 0.19, u0 + k * 0.08 + 0.05, 0.25, shade(stone, 0.9))
        p.rect(u0 + 0.08, 0.4, u0 + 0.13, 0.5, DARK)
    p.rect(0.42, 0.72, 0.58, 0.96, (60, 40, 30))                           # gate
    p.circle(0.5, 0.72, 0.08, fill=(60, 40, 30))


@motif("lighthouse")
def _lighthouse(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    band = t.tint or (205, 35, 35)
    p.poly([(0.36, 0.96), (0.64, 0.96), (0.58, 0.3), (0.42, 0.3)], (245, 245, 245))
    for v0 in (0.38, 0.58, 0.78):                                          # red bands
        f0, f1 = (v0 - 0.3) / 0.66, (v0 + 0.1 - 0.3) / 0.66
        p.poly([(0.42 - 0.06 * f0, v0), (0.58 + 0.06 * f0, v0),
                (0.58 + 0.06 * f1, v0 + 0.1), (0.42 - 0.06 * f1, v0 + 0.1)], band)
    p.rect(0.36, 0.27, 0.64, 0.3, DARK)                                    # gallery
    p.rect(0.42, 0.14, 0.58, 0.27, (255, 230, 110))                        # lamp room
    p.pie(0.4, 0.06, 0.6, 0.22, 180, 360, band)                            # dome


@motif("house")
def _house(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    wall = t.tint or pick([(230, 210, 170), (200, 120, 90), (240, 240, 230), (170, 190, 210)], lay.u[0])
    p.rect(0.18, 0.48, 0.82, 0.96, wall)
    p.poly([(0.1, 0.5), (0.9, 0.5), (0.5, 0.18)], (150, 60, 45))
    p.rect(0.64, 0.22, 0.72, 0.38, (120, 60, 45))                          # chimney
    p.rect(0.44, 0.72, 0.56, 0.96, (110, 70, 40))
    for u in (0.3, 0.7):
        p.rect(u - 0.07, 0.58, u + 0.07, 0.7, (150, 200, 230))


@motif("tree")
def _tree(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    leaf = t.tint or pick([(40, 120, 50), (70, 150, 60), (30, 90, 60)], lay.u[0])
    p.rect(0.44, 0.55, 0.56, 0.97, (100, 70, 40))
    for (u, v, r) in ((0.5, 0.3, 0.25), (0.32, 0.45, 0.18), (0.68, 0.45, 0.18), (0.5, 0.12, 0.16)):
        p.circle(u, v, r, fill=leaf)


@motif("flower")
def _flower(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    petal = t.tint or pick([(250, 200, 30), (130, 80, 200), (230, 60, 80)], lay.u[0])
    p.line([(0.5, 0.45), (0.5, 0.97)], (50, 130, 50), 0.04)
    p.ellipse(0.5, 0.65, 0.72, 0.75, fill=(60, 150, 60))
    for k in range(10):
        a = 2 * math.pi * k / 10
        p.circle(0.5 + 0.2 * math.cos(a), 0.3 + 0.2 * math.sin(a), 0.09, fill=petal)
    p.circle(0.5, 0.3, 0.12, fill=(110, 70, 30))


@motif("vase")
def _vase(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    pot = t.tint or pick([(220, 190, 90), (60, 110, 170), (200, 110, 70)], lay.u[0])
    for k, (u, v) in enumerate(((0.35, 0.18), (0.5, 0.1), (0.65, 0.18), (0.42, 0.3), (0.58, 0.3))):
        p.line([(0.5, 0.5), (u, v)], (50, 130, 50), 0.02)
        p.circle(u, v, 0.08, fill=pick([(250, 200, 30), (120, 90, 200), (240, 150, 40)], (k + lay.u[1] * 3) % 1))
    p.ellipse(0.3, 0.5, 0.7, 0.95, fill=pot)
    p.rect(0.4, 0.42, 0.6, 0.56, pot)


@motif("fruit_bowl")
def _fruit_bowl(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    for (u, v, c) in ((0.35, 0.55, (200, 40, 40)), (0.5, 0.5, (240, 170, 30)), (0.65, 0.55, (80, 160, 50)),
                      (0.43, 0.45, (150, 40, 120)), (0.58, 0.43, (230, 210, 60))):
        p.circle(u, v, 0.1, fill=c)
    p.pie(0.15, 0.3, 0.85, 0.9, 0, 180, t.tint or (150, 100, 60))
