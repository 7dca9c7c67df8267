"""Loading user images: every colour mode to RGB, EXIF orientation, and clear refusals."""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from conftest import png_header_only
from poreseg import imageio
from poreseg.imageio import ImageLoadError, as_rgb8, load_image

EXIF_ORIENTATION = 0x0112


def asymmetric_rgb(height: int = 40, width: int = 64) -> np.ndarray:
    """Smooth ramps (red across, green down) and a blue corner: every flip or turn changes it."""
    y, x = np.mgrid[:height, :width]
    rgb = np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.zeros_like(x)], axis=-1)
    rgb[: height // 3, : width // 4, 2] = 255
    return rgb.astype(np.uint8)


def save(image: Image.Image, path, **options):
    image.save(path, **options)
    return path


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_rgb_jpeg(tmp_path):
    rgb = asymmetric_rgb()
    loaded = load_image(save(Image.fromarray(rgb), tmp_path / "a.jpg", quality=95))
    assert loaded.shape == rgb.shape and loaded.dtype == np.uint8
    assert mean_abs_diff(loaded, rgb) < 3


def test_grayscale(tmp_path):
    grey = asymmetric_rgb()[..., 0]
    loaded = load_image(save(Image.fromarray(grey), tmp_path / "a.png"))
    assert loaded.shape == grey.shape + (3,)
    assert (loaded == grey[..., None]).all()


def test_transparent_pixels_become_mid_grey(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 16:, 3] = 255  # right half opaque red, left half fully transparent
    loaded = load_image(save(Image.fromarray(rgba), tmp_path / "a.png"))
    assert (loaded[:, :16] == 128).all()
    assert (loaded[:, 16:] == (255, 0, 0)).all()


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.array([0, 257 * 64, 257 * 128, 65535], np.uint16)
    grey = np.repeat(values, 8)[None].repeat(16, axis=0)  # 16x32
    image = Image.fromarray(grey)
    assert image.mode == "I;16"
    loaded = load_image(save(image, tmp_path / "a.png"))
    assert (loaded[0, ::8, 0] == (0, 64, 128, 255)).all()


def test_palette(tmp_path):
    image = Image.fromarray(asymmetric_rgb()).quantize(16)
    assert image.mode == "P"
    loaded = load_image(save(image, tmp_path / "a.png"))
    assert (loaded == np.asarray(image.convert("RGB"))).all()


def test_palette_transparency_becomes_mid_grey(tmp_path):
    image = Image.new("P", (32, 32), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(0, (0, 0, 16, 32))
    loaded = load_image(save(image, tmp_path / "a.png", transparency=0))
    assert (loaded[:, :16] == 128).all()
    assert (loaded[:, 16:] == (255, 0, 0)).all()


def test_cmyk_jpeg(tmp_path):
    cyan = Image.new("CMYK", (32, 24), (255, 0, 0, 0))
    loaded = load_image(save(cyan, tmp_path / "a.jpg", quality=95))
    assert loaded.shape == (24, 32, 3)
    assert mean_abs_diff(loaded, np.array([0, 255, 255], np.uint8)) < 4


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = save(frames[0], tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(path).n_frames == 3
    assert (load_image(path) == (255, 0, 0)).all()


# What a viewer shows for each EXIF orientation of the stored pixels (EXIF 2.3, tag 0x0112).
UPRIGHT = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # clockwise
    7: lambda a: np.rot90(a.transpose(1, 0, 2), 2),
    8: lambda a: np.rot90(a, 1),  # counter-clockwise
}


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_exif_orientation(tmp_path, orientation):
    stored = asymmetric_rgb()
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    path = save(Image.fromarray(stored), tmp_path / "a.jpg", exif=exif, quality=95, subsampling=0)
    loaded = load_image(path)
    expected = UPRIGHT[orientation](stored)
    assert loaded.shape == expected.shape
    assert mean_abs_diff(loaded, expected) < 3


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n")
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.jpg")


def test_truncated_jpeg(tmp_path):
    path = save(Image.fromarray(asymmetric_rgb(256, 256)), tmp_path / "a.jpg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(path)


@pytest.mark.parametrize("width, height", [(50000, 50000), (12000, 11000)])
def test_huge_image_is_refused_from_its_header(tmp_path, width, height):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(width, height))
    started = time.perf_counter()
    with pytest.raises(ImageLoadError, match="megapixel limit"):
        load_image(path)
    assert time.perf_counter() - started < 1.0


def test_large_image_within_the_limit_is_not_refused_for_its_size():
    # 99 MP: above Pillow's own bomb threshold (89 MP), below ours. The header-only file fails to
    # decode, but not because of its size.
    with pytest.raises(ImageLoadError) as error:
        load_image(png_header_only(11000, 9000))
    assert "megapixel" not in str(error.value) and "bomb" not in str(error.value)


def test_too_small(tmp_path):
    path = save(Image.new("RGB", (8, 8)), tmp_path / "a.png")
    with pytest.raises(ImageLoadError, match="too small"):
        load_image(path)


def test_bytes_input():
    buffer = io.BytesIO()
    Image.fromarray(asymmetric_rgb()).save(buffer, "PNG")
    assert (load_image(buffer.getvalue()) == asymmetric_rgb()).all()


def test_file_too_large(tmp_path, monkeypatch):
    path = save(Image.fromarray(asymmetric_rgb()), tmp_path / "a.png")
    monkeypatch.setattr(imageio, "MAX_FILE_BYTES", 100)
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path)
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path.read_bytes())


def test_the_size_limit_is_50_mb_as_the_readme_says(tmp_path):
    """One limit everywhere: the messages (app and command line) say the number the README gives."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "Files up to 50 MB" in readme
    path = tmp_path / "big.jpg"
    with open(path, "wb") as f:
        f.truncate(imageio.MAX_FILE_BYTES + 1)
    with pytest.raises(ImageLoadError, match=r"\(50 MB; limit 50 MB\)"):
        load_image(path)


image_arrays = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
    shape=st.tuples(st.integers(16, 40), st.integers(16, 40)).flatmap(
        lambda hw: st.sampled_from([hw, (*hw, 1), (*hw, 3), (*hw, 4)])),
)


@settings(max_examples=60, deadline=None)
@given(image_arrays)
def test_as_rgb8_shape_and_dtype(array):
    rgb = as_rgb8(array)
    assert rgb.dtype == np.uint8
    assert rgb.shape == (*array.shape[:2], 3)
