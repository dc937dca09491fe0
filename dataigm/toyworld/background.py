"""The backdrop of a scene: sky gradient and ground for the place and time of day, then the
seed's decorations (stars and moon, sun, clouds, tree line, skyline, peaks, rain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from dataigm.toyworld.layout import Layout
from dataigm.toyworld.words import RGB

if TYPE_CHECKING:
    from dataigm.toyworld.parse import Scene


# time of day -> sky gradient (top, horizon).
_SKY: dict[str, tuple[RGB, RGB]] = {
    "day": ((110, 170, 230), (200, 225, 245)),
    "sunset": ((240, 120, 80), (255, 205, 140)),
    "night": ((12, 16, 45), (40, 45, 95)),
    "overcast": ((135, 140, 150), (180, 182, 188)),
}
# place -> ground colour at the horizon (it darkens towards the bottom).
_GROUND: dict[str, RGB] = {
    "field": (100, 160, 70), "forest": (55, 110, 50), "sea": (50, 105, 165), "beach": (225, 205, 150),
    "city": (125, 125, 130), "snow": (236, 240, 248), "mountain": (110, 150, 80), "desert": (222, 190, 125),
    "sky": (120, 170, 90), "indoor": (150, 110, 80),
}


def draw_background(h: int, w: int, sc: Scene, lay: Layout) -> Image.Image:
    """An h x w RGB image of the place at the time of day: sky, ground, then decorations."""
    horizon = 0.93 if sc.place == "sky" else lay.horizon
    hy = int(round(horizon * h))
    top, bottom = _SKY[sc.time]
    if sc.place == "indoor":
        top, bottom = (215, 200, 175), (230, 218, 195)
    t = np.linspace(0.0, 1.0, max(hy, 1))[:, None]
    sky = (np.array(top) * (1 - t) + np.array(bottom) * t)
    ground = np.array(_GROUND[sc.place], dtype=np.float64)
    arr = np.empty((h, w, 3), dtype=np.float64)
    arr[:hy] = sky[:, None, :]
    g = np.linspace(1.0, 0.85, h - hy)[:, None] if h > hy else np.zeros((0, 1))
    arr[hy:] = ground[None, None, :] * g[:, :, None]
    arr += lay.jitter[None, None, :]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    s = lambda x: x * w  # noqa: E731 - short helper for relative x
    if sc.place == "indoor":
        d.rectangle([0, hy - h * 0.02, w, hy], fill=(120, 85, 60))                  # skirting
        wx = s(0.05 + 0.7 * lay.skyline[0])
        d.rectangle([wx, h * 0.12, wx + s(0.2), h * 0.38], fill=(160, 190, 215) if sc.time != "night" else (30, 35, 70))
    else:
        if sc.time == "night":
            for x, y in lay.stars:
                d.ellipse([s(x) - 1.5, y * hy * 0.9 - 1.5, s(x) + 1.5, y * hy * 0.9 + 1.5], fill=(250, 245, 200))
            mx = s(0.1 + 0.8 * lay.skyline[1])
            d.ellipse([mx - s(0.06), h * 0.08, mx + s(0.06), h * 0.08 + s(0.12)], fill=(245, 240, 200))
        elif sc.time == "sunset":
            sx = s(0.1 + 0.8 * lay.skyline[1])
            d.ellipse([sx - s(0.09), hy - s(0.12), sx + s(0.09), hy + s(0.06)], fill=(255, 170, 60))
        if sc.place in ("sky", "field", "beach", "sea", "desert") and sc.time in ("day", "overcast"):
            for x, y, r in lay.clouds:
                cx, cy, rr = s(x), y * hy * 0.6 + h * 0.05, s(0.05 + 0.06 * r)
                for dx in (-rr, 0, rr):
                    d.ellipse([cx + dx - rr, cy - rr * 0.7, cx + dx + rr, cy + rr * 0.7], fill=(248, 248, 252))
        if sc.place == "forest":
            for i, v in enumerate(lay.skyline):
                x = s(i / 9)
                top_y = hy - h * (0.12 + 0.15 * v)
                d.polygon([(x - s(0.07), hy + 1), (x + s(0.07), hy + 1), (x, top_y)], fill=(30, 80, 40))
        elif sc.place == "city":
            for i, v in enumerate(lay.skyline):
                x = s(i / 10)
                d.rectangle([x, hy - h * (0.08 + 0.2 * v), x + s(0.085), hy], fill=(95, 95, 110))
        elif sc.place in ("mountain", "snow"):
            for i, v in enumerate(lay.skyline[:4]):
                x = s(0.1 + 0.27 * i)
                peak = hy - h * (0.15 + 0.2 * v)
                d.polygon([(x - s(0.2), hy + 1), (x + s(0.2), hy + 1), (x, peak)], fill=(120, 120, 135))
                d.polygon([(x - s(0.06), peak + h * 0.06), (x + s(0.06), peak + h * 0.06), (x, peak)],
                          fill=(245, 245, 250))
        elif sc.place == "beach":
            d.rectangle([0, hy, w, hy + h * 0.08], fill=(50, 110, 170))              # a band of sea
        if sc.time == "overcast":
            for x, y in lay.stars[:14]:
                x0, y0 = s(x), y * h
                d.line([(x0, y0), (x0 - s(0.03), y0 + h * 0.08)], fill=(200, 205, 220), width=1)
    return img
