"""Contact sheets: one PNG grid per concept, a row per (label, source), for checking labels by eye.

Samples are picked by a stable hash of the row id (not the first files on disk, which would all
come from one prompt or one shard), so the sheet shows a spread and is the same on every export.

With `pixelate`, every thumbnail becomes a mosaic of at most PIXELATE_CELLS x PIXELATE_CELLS
flat blocks (each block the mean colour of its area): colours and rough layout stay, enough to
spot a wrong label or a broken source, while nothing explicit is visible. Export pixelates the
sheets of nsfw-domain concepts by default (they sit next to a card meant for publishing).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping

from PIL import Image, ImageDraw, ImageFont, ImageOps

from dataigm.errors import InputError
from dataigm.io import atomic_path

_BG = (255, 255, 255)
_INK = (20, 20, 20)
_MUTED = (110, 110, 110)
# Blocks along a thumbnail's longer side when pixelated: a 96 px thumbnail becomes 16 px blocks.
PIXELATE_CELLS = 6


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: scalable
    except TypeError:  # pragma: no cover - very old Pillow: fixed bitmap font
        return ImageFont.load_default()


def _key(row: Mapping[str, Any]) -> tuple[int, str, str]:
    return (int(row["label_id"]), str(row["label"]), str(row["source"]))


def make_contact_sheet(
    rows: Iterable[Mapping[str, Any]],
    run_dir: str | Path,
    out_path: str | Path,
    per_cell: int = 6,
    thumb: int = 96,
    title: str | None = None,
    pixelate: bool = False,
) -> Path:
    """Write a PNG grid: one line per (label, source) with up to `per_cell` thumbnails.

    Rows are manifest rows (need `id`, `label`, `label_id`, `source`, `path` relative to
    `run_dir`; `split` and `concept` are shown when present). Returns `out_path`.
    """
    run_dir = Path(run_dir)
    rows = list(rows)
    if not rows:
        raise InputError(f"{out_path}: no rows to draw a contact sheet from")
    if per_cell < 1 or thumb < 8:
        raise InputError(f"contact sheet: per_cell must be >= 1 and thumb >= 8 (got {per_cell}, {thumb})")
    lines: dict[tuple[int, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        lines[_key(r)].append(r)

    font, small = _font(max(11, thumb // 7)), _font(max(9, thumb // 9))
    pad, head, label_w = 6, max(28, thumb // 3), max(150, thumb + 60)
    text_h = 16 + _font_px(font) + 2 * _font_px(small)
    cell_h = max(thumb + 4 + _font_px(small), text_h)
    width = label_w + per_cell * (thumb + pad) + pad
    height = head + len(lines) * (cell_h + pad) + pad
    sheet = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(sheet)
    concepts = sorted({str(r.get("concept", "")) for r in rows} - {""})
    heading = title or f"{', '.join(concepts) or 'dataset'}: {len(rows)} images, label x source"
    draw.text((pad, pad), heading, fill=_INK, font=font)

    for line_no, key in enumerate(sorted(lines)):
        label_id, label, source = key
        members = lines[key]
        y = head + line_no * (cell_h + pad)
        draw.text((pad, y + 4), f"{label_id} = {label}", fill=_INK, font=font)
        draw.text((pad, y + 8 + _font_px(font)), f"source: {source}", fill=_INK, font=small)
        draw.text((pad, y + 12 + _font_px(font) + _font_px(small)), f"{len(members)} images",
                  fill=_MUTED, font=small)
        picks = sorted(members, key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())
        for j, r in enumerate(picks[:per_cell]):
            x = label_w + j * (thumb + pad)
            path = run_dir / str(r["path"])
            try:
                with Image.open(path) as im:
                    tile = ImageOps.contain(im.convert("RGB"), (thumb, thumb))
                if pixelate:
                    tile = pixelated(tile)
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: cannot read image for the contact sheet: {exc}") from None
            sheet.paste(tile, (x + (thumb - tile.width) // 2, y + (thumb - tile.height) // 2))
            caption = str(r.get("split") or "")
            if caption:
                draw.text((x, y + thumb + 2), caption, fill=_MUTED, font=small)

    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        sheet.save(tmp, format="PNG")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the temp file is 0600; a published sheet is for everyone
    return out_path


def pixelated(tile: Image.Image, cells: int = PIXELATE_CELLS) -> Image.Image:
    """`tile` as a mosaic of at most `cells` flat blocks along its longer side."""
    scale = cells / max(tile.size)
    small = tile.resize((max(1, round(tile.width * scale)), max(1, round(tile.height * scale))),
                        Image.Resampling.BOX)
    return small.resize(tile.size, Image.Resampling.NEAREST)


def _font_px(font: Any) -> int:
    return int(getattr(font, "size", 11))
