"""Loading user images safely: size limits before decoding, EXIF orientation, every colour mode to RGB."""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 120_000_000  # a 12000x9000 photo still loads; decompression bombs do not
MIN_SIDE = 16


class ImageLoadError(ValueError):
    """The input is not an image we can analyse; the message says why in one line."""


def load_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """An image file (path or bytes) as HxWx3 uint8 RGB, upright according to its EXIF orientation."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_FILE_BYTES:
            raise ImageLoadError(f"file too large ({len(source) / 1e6:.0f} MB; limit {MAX_FILE_BYTES / 1e6:.0f} MB)")
        stream, name = io.BytesIO(source), "image"
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
                raise ImageLoadError(f"{name}: not an image (or a format Pillow cannot read)") from None
            except Image.DecompressionBombError:
                raise ImageLoadError(f"{name}: more than the {MAX_PIXELS / 1e6:.0f} megapixel limit") from None
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageLoadError(f"{name}: {width}x{height} pixels is more than the "
                                     f"{MAX_PIXELS / 1e6:.0f} megapixel limit")
            image.seek(0)  # animated GIF/WebP: the first frame
            image = ImageOps.exif_transpose(image)
            return to_rgb(image, name)
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageLoadError(f"{name}: unreadable or truncated image ({error})") from None


def to_rgb(image: Image.Image, name: str = "image") -> np.ndarray:
    """Any Pillow mode (grey, 16-bit, palette, CMYK, RGBA, ...) as HxWx3 uint8 RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255 + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become mid-grey: neither skin-coloured nor a hard black edge.
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        image = Image.alpha_composite(backdrop, rgba)
    rgb = np.asarray(image.convert("RGB"))
    return check_size(rgb, name)


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
