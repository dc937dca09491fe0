"""Decoding images found in the wild into clean RGB pixels, or a short reason why not.

Files from web crawls and photo collections lie about themselves: JPEG bytes behind a .png
name, CMYK or 16-bit scans, palette images with transparency, phone photos whose orientation is
only an EXIF tag, animated GIFs, truncated downloads, HTML error pages saved as .jpg, and
decompression bombs. `decode_image` handles all of them the same way: it trusts the bytes (Pillow
sniffs the format from the content, never from the name), returns an RGB image with the EXIF
orientation applied and transparency composited on white, or raises `ImageRejected` with a
short machine-readable reason (counted in reports) plus a human detail.

Used by ingestion and by curation (validate stored files). Ingestion keeps the source bytes of
every image that decodes cleanly into a plain picture (`DecodedImage.normalise` is None: a
single-frame JPEG, PNG or WebP in RGB or greyscale with no EXIF rotation) and re-encodes only the
others as PNG (`encode_png`), recording why (`normalise`: "cmyk", "exif_orientation", ...).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS, ~89 MP warning / ~179 MP error) is global
# state; we keep it and add our own explicit limits, checked on the header before decoding.
DEFAULT_MAX_PIXELS = 89_478_485
# Long side over short side. Panoramas and banners stay under 20; an 80,000,000 x 1 "image" (78 KB
# of PNG) does not, and would exhaust memory in every later step that looks at its pixels.
DEFAULT_MAX_ASPECT = 20.0

# Formats whose bytes are stored as they are (extension by format) when nothing needs fixing;
# every loader reads them. Anything else is re-encoded once as PNG.
KEPT_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
KEPT_MODES = ("RGB", "L")
_EXIF_ORIENTATION = 0x0112

# Reasons (stable strings; reports count them).
EMPTY = "empty_file"
NOT_AN_IMAGE = "not_an_image"
TRUNCATED = "truncated"
BOMB = "decompression_bomb"
UNREADABLE = "unreadable"
BAD_SIZE = "invalid_size"
ASPECT = "aspect_ratio"


class ImageRejected(Exception):
    """An input that cannot become a clean RGB image; `reason` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class DecodedImage:
    image: Image.Image          # RGB, orientation applied
    source_format: str | None   # what the bytes really were (JPEG, PNG, GIF, ...)
    source_mode: str            # mode before normalisation (CMYK, P, I;16, ...)
    frames: int                 # >1 for animations (only the first frame is kept)
    # Why the source bytes cannot be stored as they are ("cmyk", "exif_orientation", "alpha",
    # "high_bit_depth", "palette", "bilevel", "animation", "format_tiff", ... joined by ","),
    # or None: the bytes are a clean JPEG / PNG / WebP and are kept byte for byte.
    normalise: str | None = None

    @property
    def kept_extension(self) -> str | None:
        """The file extension for the source bytes when they are kept, else None."""
        return None if self.normalise else KEPT_FORMATS.get(self.source_format or "")


def decode_image(data: bytes | str | Path, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_aspect: float | None = None) -> DecodedImage:
    """Decode bytes (or a file) fully into an RGB image, or raise ImageRejected. Sizes beyond
    `max_pixels`, or an aspect ratio beyond `max_aspect`, are rejected from the header alone."""
    if isinstance(data, (str, Path)):
        try:
            data = Path(data).read_bytes()
        except OSError as exc:
            raise ImageRejected(UNREADABLE, exc.strerror or str(exc)) from None
    if len(data) == 0:
        raise ImageRejected(EMPTY, "zero bytes")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow into silently padding truncated files; we would then store
        # grey half-images. Refuse loudly rather than change the global back behind their back.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; truncated files would pass")
    with warnings.catch_warnings():
        # Pillow warns (and past 2x its limit raises) for decompression bombs; both reject.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(BOMB, str(exc).split(".")[0]) from None
        except UnidentifiedImageError:
            raise ImageRejected(NOT_AN_IMAGE, _sniff_text(data)) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(NOT_AN_IMAGE, _first_line(exc)) from None
        width, height = im.size
        if width < 1 or height < 1:
            raise ImageRejected(BAD_SIZE, f"{width}x{height}")
        if width * height > max_pixels:
            raise ImageRejected(BOMB, f"{width}x{height} = {width * height} pixels > {max_pixels}")
        if max_aspect is not None and max(width, height) / min(width, height) > max_aspect:
            raise ImageRejected(ASPECT, f"{width}x{height}: long side / short side "
                                        f"{max(width, height) / min(width, height):.1f} > {max_aspect:g}")
        source_format, source_mode = im.format, im.mode
        frames = int(getattr(im, "n_frames", 1) or 1)
        try:
            if frames > 1:
                im.seek(0)  # animations: the first frame is the image
            im.load()  # full decode now, so truncation shows here and not later
            why = normalisation_needed(im, source_format, frames)
            rgb = normalise(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(BOMB, _first_line(exc)) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            text = _first_line(exc)
            reason = TRUNCATED if ("truncated" in text or "broken" in text or isinstance(exc, EOFError)) else UNREADABLE
            raise ImageRejected(reason, text) from None
        except (MemoryError, Image.DecompressionBombError) as exc:  # pragma: no cover
            raise ImageRejected(BOMB, _first_line(exc)) from None
    return DecodedImage(rgb, source_format, source_mode, frames, why)


def normalisation_needed(im: Image.Image, source_format: str | None, frames: int) -> str | None:
    """Why a decoded image's source bytes cannot be kept as they are, or None (module docstring)."""
    reasons = []
    if source_format not in KEPT_FORMATS:
        reasons.append(f"format_{str(source_format).lower()}")
    if frames > 1:
        reasons.append("animation")
    orientation = im.getexif().get(_EXIF_ORIENTATION) if hasattr(im, "getexif") else None
    if orientation not in (None, 1):
        reasons.append("exif_orientation")
    mode = im.mode
    if mode not in KEPT_MODES:
        if mode == "CMYK":
            reasons.append("cmyk")
        elif mode.startswith("I") or mode == "F":
            reasons.append("high_bit_depth")
        elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
            reasons.append("alpha")
        elif mode == "P":
            reasons.append("palette")
        elif mode == "1":
            reasons.append("bilevel")
        else:
            reasons.append(f"mode_{mode.lower()}")
    return ",".join(reasons) or None


def normalise(im: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: EXIF orientation applied, alpha composited on white,
    high bit depths scaled (not clipped) to 8 bits."""
    im = ImageOps.exif_transpose(im) or im
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(im)), "L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    elif mode == "P":
        im = im.convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    if im.mode == "1":
        im = im.convert("L")
    if im.mode != "RGB":
        im = im.convert("RGB")  # L, CMYK, YCbCr, LAB, HSV
    return im


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    arr = arr.astype(np.float64)
    if arr.size and arr.max() <= 1.0 and arr.min() >= 0.0 and arr.dtype.kind == "f":
        arr = arr * 255.0
    elif arr.size and arr.max() > 255:
        arr = arr / 257.0  # 16-bit range to 8-bit
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _sniff_text(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "HTML page"
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return "XML/SVG document (vector images are not supported)"
    if head.startswith(b"{") or head.startswith(b"["):
        return "JSON text"
    try:
        head.decode("utf-8")
        return "text file"
    except UnicodeDecodeError:
        return "unknown binary format"


def encode_png(image: Image.Image) -> bytes:
    """Deterministic PNG bytes (no timestamps or text chunks): same pixels -> same bytes, so
    the sha256 of the file is a content address."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()
