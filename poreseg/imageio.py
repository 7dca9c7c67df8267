"""Loading user images safely: size limits before decoding, EXIF orientation, every colour mode to RGB,
and photos larger than an analysis needs shrunk as they load."""
from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_FILE_BYTES = 50_000_000  # "50 MB" as the messages, the README and Gradio's refusal all say it (10^6 bytes a MB)
MAX_PIXELS = 120_000_000  # a 12000x9000 photo still loads; decompression bombs do not
# Photos with more pixels are shrunk to this many as they load: a JPEG is decoded at 1/2, 1/4 or 1/8
# scale directly, other formats are averaged down in Pillow before any copy is made. An analysis holds
# about 30 bytes per pixel at its peak (0.45 GB here, 0.7 GB with the models); pores stay resolved, since
# a face filling a photo this large is far sharper than pores need; and 12 MP phone photos load untouched.
MAX_WORKING_PIXELS = 16_000_000
# Pillow modes whose values can be averaged (not palette indices, bits or 16-bit words, which Pillow
# cannot reduce): these are shrunk before they are converted.
AVERAGING_MODES = ("L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F")
MIN_SIDE = 16
# ISO media files Pillow cannot open: HEIC/HEIF, the iPhone camera's default format (brands after "ftyp").
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")


class ImageLoadError(ValueError):
    """The input is not an image we can analyse; the message says why in one line."""


def load_image(source: str | os.PathLike | bytes, name: str = "image") -> np.ndarray:
    """An image file (path, or bytes called ``name`` in messages) as HxWx3 uint8 RGB, upright according to
    its EXIF orientation and shrunk to MAX_WORKING_PIXELS if it has more."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_FILE_BYTES:
            raise ImageLoadError(f"{name}: file too large ({len(source) / 1e6:.0f} MB; "
                                 f"limit {MAX_FILE_BYTES / 1e6:.0f} MB)")
        stream = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageLoadError(f"{path}: no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImageLoadError(f"{path.name}: file too large ({path.stat().st_size / 1e6:.0f} MB; "
                                 f"limit {MAX_FILE_BYTES / 1e6:.0f} MB)")
        stream, name = open(path, "rb"), path.name
    try:
        with stream, warnings.catch_warnings():
            # Pillow's own bomb check runs inside Image.open, before ours: it warns from 89 MP, below
            # our limit, and refuses from 179 MP with a message that names neither size nor limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                image = Image.open(stream)
            except UnidentifiedImageError:
                raise ImageLoadError(f"{name}: {_unreadable_format(stream)}") from None
            except Image.DecompressionBombError:
                raise ImageLoadError(f"{name}: more than the {MAX_PIXELS / 1e6:.0f} megapixel limit") from None
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageLoadError(f"{name}: {width}x{height} pixels is more than the "
                                     f"{MAX_PIXELS / 1e6:.0f} megapixel limit")
            image.seek(0)  # animated GIF/WebP: the first frame
            scale = math.sqrt(MAX_WORKING_PIXELS / (width * height))
            if scale < 1:
                # JPEG: the decoder itself shrinks by the largest power of two that keeps the working size.
                image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
            ImageOps.exif_transpose(image, in_place=True)  # without orientation, not copied
            return to_rgb(image, name)
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageLoadError(f"{name}: unreadable or truncated image ({error})") from None


def _unreadable_format(stream) -> str:
    stream.seek(0)
    head = stream.read(12)
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return ("a HEIC/HEIF photo, which cannot be read here: send it as JPEG or PNG (on an iPhone: "
                "Settings > Camera > Formats > Most Compatible)")
    return "not an image (or a format Pillow cannot read)"


def shrink_to(rgb: np.ndarray, max_pixels: int) -> np.ndarray:
    """``rgb`` shrunk (area-averaged, aspect kept) to at most ``max_pixels`` pixels; as it is if it has fewer."""
    h, w = rgb.shape[:2]
    if h * w <= max_pixels:
        return rgb
    scale = math.sqrt(max_pixels / (h * w))
    return cv2.resize(rgb, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)


def to_rgb(image: Image.Image, name: str = "image") -> np.ndarray:
    """Any Pillow mode (grey, 16-bit, palette, CMYK, RGBA, ...) as HxWx3 uint8 RGB, shrunk to at most
    MAX_WORKING_PIXELS pixels."""
    factor = math.isqrt(image.width * image.height // MAX_WORKING_PIXELS)
    if factor > 1 and image.mode in AVERAGING_MODES:
        image = image.reduce(factor)  # box averages, before the copies below are made at full size
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image)
        top = 65535 if array.max() > 255 else 255
        # A lookup table: no full-size float copy of a large 16-bit image.
        to_8_bits = (np.arange(top + 1) * 255 / top + 0.5).astype(np.uint8)
        image = Image.fromarray(to_8_bits[np.clip(array, 0, top)])
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become mid-grey: neither skin-coloured nor a hard black edge.
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        image = Image.alpha_composite(backdrop, rgba)
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    return check_size(shrink_to(rgb, MAX_WORKING_PIXELS), name)


def check_size(rgb: np.ndarray, name: str = "image") -> np.ndarray:
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise ImageLoadError(f"{name}: {rgb.shape[1]}x{rgb.shape[0]} pixels is too small to analyse")
    return rgb


def as_rgb8(array: np.ndarray) -> np.ndarray:
    """An array image (grey, RGB, RGBA; uint8, uint16 or float in [0, 1]) as HxWx3 uint8 RGB."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageLoadError(f"expected an HxW, HxWx3 or HxWx4 image array, got shape {array.shape}")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif array.dtype.kind == "f":
        array = (np.clip(np.nan_to_num(array), 0, 1) * 255 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[..., 3:].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 128 * (1 - alpha) + 0.5).astype(np.uint8)
    return check_size(np.ascontiguousarray(array))
