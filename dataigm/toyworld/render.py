"""The renderer: prompt + seed -> RGB image, a pure function of its inputs.

Order of work: parse the prompt, draw the seed's layout, paint the backdrop and the things at
twice the output size, downsample, apply whole-picture attributes, add the seed's noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image, ImageDraw

from dataigm.errors import InputError
from dataigm.toyworld import styles
from dataigm.toyworld.background import draw_background
from dataigm.toyworld.draw import draw_thing
from dataigm.toyworld.layout import layout_for_seed
from dataigm.toyworld.parse import parse_prompt
from dataigm.toyworld.pen import Pen

if TYPE_CHECKING:
    from dataigm.taxonomy import ConceptSpec

# Bump whenever the drawing changes: it is recorded as model_revision in every manifest row
# (tests/test_toyworld_golden.py fails on any pixel change).
RENDERER_VERSION = "toyworld-1.0"
# Shapes are drawn at twice the output size and box-filtered down: smooth edges at little cost.
_SUPERSAMPLE = 2


def render(prompt: str, seed: int, height: int = 64, width: int = 64,
           concepts: Sequence["ConceptSpec"] = ()) -> Image.Image:
    """Draw `prompt` at `seed`: an RGB image, byte-identical for the same inputs on one machine."""
    if height < 8 or width < 8:
        raise InputError(f"toyworld: height and width must be >= 8, got {height}x{width}")
    sc = parse_prompt(prompt, concepts)
    lay = layout_for_seed(seed)
    H, W = height * _SUPERSAMPLE, width * _SUPERSAMPLE
    img = draw_background(H, W, sc, lay)
    draw = ImageDraw.Draw(img)
    m = min(H, W)
    # The secondary thing first and small, to one side on the horizon, so the subject covers it.
    if sc.secondary is not None:
        size2 = 0.3 * m
        cx2 = (0.16 if lay.side < 0.5 else 0.84) * W
        cy2 = lay.horizon * H - 0.15 * m
        draw_thing(Pen(draw, cx2 - size2 / 2, cy2 - size2 / 2, size2, size2, lay.flip),
                   sc.secondary, lay, sc)
    if sc.subject is not None:
        size = lay.size * m
        x0, y0 = lay.cx * W - size / 2, lay.cy * H - size / 2
        draw_thing(Pen(draw, x0, y0, size, size, lay.flip), sc.subject, lay, sc)
    img = img.reduce(_SUPERSAMPLE)
    arr = np.asarray(img, dtype=np.float64)
    if sc.time == "night":
        arr = styles.moonlight(arr)
    if sc.swirl:
        arr = styles.swirl(arr, lay)
    for motif in sc.textures:
        arr = styles.texture(arr, motif)
    if sc.grayscale or sc.sepia:
        arr = styles.monochrome(arr, sc.sepia)
    # Sensor noise: from the seed only, so both images of a pair carry the same noise.
    arr = arr + lay.rng.normal(0.0, 3.0, size=arr.shape)
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "RGB")
