"""A corpus of broken and odd image files, as found in web crawls and photo collections.

`build_corpus(folder)` writes them and returns what a correct ingester must do with each:
`GOOD[name]` says how the kept image must look, `BAD[name]` is the reject reason.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RED = (220, 20, 20)
BLUE = (20, 40, 220)
GREEN = (20, 200, 40)


def _photo(w: int = 64, h: int = 48, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    noise = rng.normal(0, 20, (h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG whose header claims width x height (zero rows compress to almost nothing)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(height // 1000)]
    parts.append(comp.compress(row * (height % 1000)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _exif_rotated() -> bytes:
    # Stored 40x20: left half red, right half blue; EXIF orientation 6 = display rotated 90 CW,
    # so the upright image is 20x40 with red on top.
    im = Image.new("RGB", (40, 20), BLUE)
    im.paste(RED, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(im, "JPEG", quality=95, exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (24, 24), c) for c in (RED, GREEN, BLUE)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _palette_alpha() -> bytes:
    # Palette image, index 0 transparent (-> white after compositing), index 1 green.
    im = Image.new("P", (16, 16), 0)
    im.putpalette([0, 0, 0, *GREEN] + [0] * (256 * 3 - 6))
    im.paste(1, (8, 0, 16, 16))
    return _save(im, "PNG", transparency=0)


def _rgba() -> bytes:
    im = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    im.paste((*BLUE, 255), (0, 0, 8, 16))
    return _save(im, "PNG")


def _gray16() -> bytes:
    arr = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)  # 0 .. 65472
    return _save(Image.fromarray(arr), "PNG")


# name -> expectations checked on the stored file and its row:
# size: (w, h) after normalisation; pixels: (x, y) -> approx RGB after conversion to RGB;
# stored: (format of the stored file, the row's `normalised`): None = the source bytes are kept.
GOOD: dict[str, dict[str, object]] = {
    "jpeg_behind_png_name.png": {"size": (64, 48), "stored": ("JPEG", None)},
    "UPPER_CASE.JPG": {"size": (64, 48), "stored": ("JPEG", None)},
    "double_ext.jpg.png": {"size": (64, 48), "stored": ("PNG", None)},
    "cmyk.jpg": {"size": (64, 48), "stored": ("PNG", "cmyk")},
    "gray16.png": {"size": (32, 32), "pixels": {(0, 0): (0, 0, 0), (31, 31): (254, 254, 254)},
                   "stored": ("PNG", "high_bit_depth")},
    "palette_alpha.png": {"size": (16, 16), "pixels": {(2, 8): (255, 255, 255), (12, 8): GREEN},
                          "stored": ("PNG", "alpha")},
    "rgba.png": {"size": (16, 16), "pixels": {(2, 8): BLUE, (12, 8): (255, 255, 255)}, "stored": ("PNG", "alpha")},
    "exif_rotated.jpg": {"size": (20, 40), "pixels": {(10, 5): RED, (10, 35): BLUE},
                         "stored": ("PNG", "exif_orientation")},
    "animated.gif": {"size": (24, 24), "pixels": {(12, 12): RED}, "stored": ("PNG", "format_gif,animation,palette")},
    "la.png": {"size": (64, 48), "stored": ("PNG", "alpha")},
    "bilevel.png": {"size": (64, 48), "stored": ("PNG", "bilevel")},
    "tiny_1x1.png": {"size": (1, 1), "stored": ("PNG", None)},
    "huge.png": {"size": (3000, 2000), "stored": ("PNG", None)},
    "photo.webp": {"size": (64, 48), "stored": ("WEBP", None)},
    "scan.tif": {"size": (64, 48), "stored": ("PNG", "format_tiff")},
    "old.bmp": {"size": (64, 48), "stored": ("PNG", "format_bmp")},
    "no_extension": {"size": (64, 48), "stored": ("PNG", None)},
}

BAD: dict[str, str] = {
    "zero_bytes.jpg": "empty_file",
    "text_renamed.jpg": "not_an_image",
    "error_page.jpg": "not_an_image",
    "json_renamed.jpeg": "not_an_image",
    "svg_renamed.png": "not_an_image",
    "random_bytes.png": "not_an_image",
    "truncated.jpg": "truncated",
    "truncated.png": "truncated",
    "png_magic_only.png": "not_an_image",
    "bomb_error.png": "decompression_bomb",
    "bomb_warning.png": "decompression_bomb",
}

SKIPPED = ("notes.txt", ".DS_Store")


def build_corpus(folder: Path) -> Path:
    """Write every GOOD and BAD file (and two sidecars) into `folder`; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = _photo()
    png = _save(photo, "PNG")
    jpeg = _save(_photo(seed=1), "JPEG", quality=90)
    files: dict[str, bytes] = {
        "jpeg_behind_png_name.png": _save(_photo(seed=2), "JPEG", quality=85),
        "UPPER_CASE.JPG": jpeg,
        "double_ext.jpg.png": _save(_photo(seed=3), "PNG"),
        "cmyk.jpg": _save(_photo(seed=4).convert("CMYK"), "JPEG", quality=90),
        "gray16.png": _gray16(),
        "palette_alpha.png": _palette_alpha(),
        "rgba.png": _rgba(),
        "exif_rotated.jpg": _exif_rotated(),
        "animated.gif": _animated_gif(),
        "la.png": _save(_photo(seed=5).convert("LA"), "PNG"),
        "bilevel.png": _save(_photo(seed=6).convert("1"), "PNG"),
        "tiny_1x1.png": _save(Image.new("RGB", (1, 1), RED), "PNG"),
        "huge.png": _save(Image.new("RGB", (3000, 2000), GREEN), "PNG"),
        "photo.webp": _save(_photo(seed=7), "WEBP", quality=80),
        "scan.tif": _save(_photo(seed=8), "TIFF"),
        "old.bmp": _save(_photo(seed=9), "BMP"),
        "no_extension": _save(_photo(seed=10), "PNG"),
        "zero_bytes.jpg": b"",
        "text_renamed.jpg": b"This is not an image, just some notes.\n" * 5,
        "error_page.jpg": b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
                          b"<body><h1>Not Found</h1></body></html>\n",
        "json_renamed.jpeg": b'{"error": "rate limited"}',
        "svg_renamed.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        "random_bytes.png": np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes(),
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": png[: len(png) // 2],
        "png_magic_only.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 10,
        "bomb_error.png": _png_bomb(20000, 20000),      # 400 MP: over twice Pillow's limit
        "bomb_warning.png": _png_bomb(10000, 10000),    # 100 MP: over Pillow's warning limit
        "notes.txt": b"crawl notes\n",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
    }
    assert set(files) == set(GOOD) | set(BAD) | set(SKIPPED)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder
