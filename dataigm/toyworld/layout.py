"""Where every choice of a render comes from: the seed (layout) or a name's hash (digest).

The seed alone fixes layout, colours, decorations and noise, drawn in one fixed order whatever
the prompt says, so the two images of a pair (same seed, prompt with and without the concept
words) share background and layout and differ only in the concept. Names the world has no shape
for (portraits, glyphs, textures) get their variants from a hash of the name instead, so the
same name looks the same at every seed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dataigm.toyworld.words import RGB


@dataclass
class Layout:
    """Where things go and which variants they take, all drawn from the seed alone."""

    horizon: float
    cx: float
    cy: float
    size: float
    flip: bool
    side: float          # secondary object: left (<0.5) or right
    u: np.ndarray        # generic uniforms for colour/pose choices
    clouds: np.ndarray
    skyline: np.ndarray
    stars: np.ndarray
    vortices: np.ndarray
    stroke_freq: float
    stroke_phase: float
    jitter: np.ndarray   # colour jitter per channel
    rng: np.random.Generator   # left for the noise field, drawn last


def layout_for_seed(seed: int) -> Layout:
    """Every random value of a render, drawn in one fixed order whatever the prompt."""
    rng = np.random.default_rng(int(seed) % (1 << 64))
    return Layout(
        horizon=float(rng.uniform(0.58, 0.74)),
        cx=float(rng.uniform(0.38, 0.62)),
        cy=float(rng.uniform(0.44, 0.56)),
        size=float(rng.uniform(0.52, 0.66)),
        flip=bool(rng.random() < 0.5),
        side=float(rng.random()),
        u=rng.random(16),
        clouds=rng.random((4, 3)),
        skyline=rng.random(10),
        stars=rng.random((24, 2)),
        vortices=rng.random((4, 4)),
        stroke_freq=float(rng.uniform(0.9, 1.4)),
        stroke_phase=float(rng.uniform(0, 2 * math.pi)),
        jitter=rng.integers(-12, 13, size=3),
        rng=rng,
    )


def pick(options: Sequence[RGB], u: float) -> RGB:
    """The option a uniform `u` in [0, 1) falls on."""
    return options[min(int(u * len(options)), len(options) - 1)]


def digest(text: str) -> bytes:
    """32 stable bytes to hash a name's variants from (not Python's salted hash())."""
    return hashlib.sha256(text.encode("utf-8")).digest()
