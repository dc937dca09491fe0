"""Attributes applied to the whole picture, on the float RGB array after the shapes are drawn
and downsampled: moonlight, the Van Gogh swirl, hashed textures for user attribute concepts, and
black and white / sepia.
"""

from __future__ import annotations

import math

import numpy as np

from dataigm.toyworld.layout import Layout, digest
from dataigm.toyworld.words import GLYPH_COLOURS


def moonlight(arr: np.ndarray) -> np.ndarray:
    """Night: everything a little darker and bluer."""
    return arr * np.array([0.7, 0.72, 0.85])


def swirl(arr: np.ndarray, lay: Layout) -> np.ndarray:
    """Van-Gogh-like rendering: swirling spiral stroke bands around a few vortices, the picture
    smeared along them, a saturated blue-to-yellow palette and dark outlines."""
    h, w, _ = arr.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xn, yn = xx / w, yy / h
    # A background of long wavy strokes, then spirals around each vortex blended in by distance.
    stroke = 0.6 * np.sin(2 * math.pi * (xn * 2.5 + yn * 5.0 * lay.stroke_freq) + lay.stroke_phase
                          + 1.5 * np.sin(2 * math.pi * xn * 1.5))
    wsum = np.full((h, w), 0.6)
    tx = np.zeros((h, w))
    ty = np.zeros((h, w))
    for vx, vy, strength, sign in lay.vortices:
        dx, dy = xn - vx, yn - vy
        r = np.sqrt(dx * dx + dy * dy) + 1e-6
        s = 1.0 if sign > 0.5 else -1.0
        wgt = np.exp(-((r / (0.18 + 0.15 * strength)) ** 2)) * 3.0
        # An integer number of arms keeps the spiral continuous across atan2's branch cut.
        stroke += wgt * np.sin(2 * math.pi * r * 9 * lay.stroke_freq + s * 2 * np.arctan2(dy, dx))
        wsum += wgt
        tx += wgt * s * (-dy / r)
        ty += wgt * s * (dx / r)
    stroke /= wsum
    amp = 1.5 * max(h, w) / 64.0
    ox = np.clip(np.round(xx + amp * tx / wsum * stroke), 0, w - 1).astype(np.intp)
    oy = np.clip(np.round(yy + amp * ty / wsum * stroke), 0, h - 1).astype(np.intp)
    warped = arr[oy, ox]
    lum = warped.mean(axis=2) / 255.0
    stops = np.array([0.0, 0.35, 0.7, 1.0])
    cols = np.array([[15, 35, 110], [35, 85, 200], [245, 205, 40], [255, 240, 150]], dtype=np.float64)
    palette = np.stack([np.interp(lum, stops, cols[:, k]) for k in range(3)], axis=2)
    out = 0.25 * warped + 0.75 * palette
    out *= (0.78 + 0.22 * stroke)[:, :, None]
    base = arr.mean(axis=2) / 255.0
    gy, gx = np.gradient(base)
    out[np.hypot(gx, gy) > 0.06] *= 0.4     # strong dark outlines around the shapes
    return out


def texture(arr: np.ndarray, motif: str) -> np.ndarray:
    """A user attribute concept the world has no motif for: a hashed overlay pattern."""
    h, w, _ = arr.shape
    b = digest("texture:" + motif)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ang = b[0] / 255 * math.pi
    freq = (3 + b[1] % 6) * 2 * math.pi / max(h, w)
    c = np.array(GLYPH_COLOURS[b[2] % len(GLYPH_COLOURS)], dtype=np.float64)
    kind = b[3] % 3
    u = xx * math.cos(ang) + yy * math.sin(ang)
    v = -xx * math.sin(ang) + yy * math.cos(ang)
    if kind == 0:
        mask = (np.sin(u * freq) > 0.3).astype(np.float64)
    elif kind == 1:
        mask = ((np.sin(u * freq) > 0) ^ (np.sin(v * freq) > 0)).astype(np.float64)
    else:
        mask = ((np.sin(u * freq) * np.sin(v * freq)) > 0.5).astype(np.float64)
    return arr * (1 - 0.4 * mask[:, :, None]) + c * 0.4 * mask[:, :, None]


def monochrome(arr: np.ndarray, sepia: bool) -> np.ndarray:
    """Black and white (luma), or sepia: the same luma tinted warm."""
    lum = arr @ np.array([0.299, 0.587, 0.114])
    tone = np.array([1.07, 0.95, 0.78]) if sepia else np.ones(3)
    return lum[:, :, None] * tone[None, None, :]
