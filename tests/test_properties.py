"""Property-based tests (hypothesis): the loader on random images in random formats and on damaged files,
and the pore metrics on random pore masks and zones."""
from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from poreseg import imageio
from poreseg.imageio import MIN_SIDE, ImageLoadError, load_image
from poreseg.metrics import find_pores, measure, score_band
from poreseg.pores.methods import METHODS
from poreseg.zones import ZONES, FaceFrame, FaceZones, Landmarks

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP")
LOSSLESS = ("PNG", "TIFF", "BMP")
# Channels -> what the array means to Pillow.
CHANNELS = {None: "grey", 2: "grey + alpha", 3: "RGB", 4: "RGBA"}
loader_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def image_arrays(draw) -> np.ndarray:
    """Arrays Pillow may or may not take: any of several dtypes and channel counts, any size from tiny."""
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.bool_]))
    channels = draw(st.sampled_from(list(CHANNELS)))
    height, width = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    shape = (height, width) if channels is None else (height, width, channels)
    elements = st.floats(0, 1, width=32) if dtype == np.float32 else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


def encoded(array: np.ndarray, image_format: str) -> bytes | None:
    """The array saved in ``image_format``, or None when Pillow cannot make or save such an image."""
    buffer = io.BytesIO()
    try:
        Image.fromarray(array).save(buffer, image_format)
    except (TypeError, ValueError, OSError, KeyError):
        return None
    return buffer.getvalue()


def assert_loaded_or_refused(data: bytes) -> np.ndarray | None:
    """``load_image`` gives HxWx3 uint8 or an ImageLoadError with a one-line message, never another error."""
    try:
        rgb = load_image(data)
    except ImageLoadError as error:
        assert str(error) and "\n" not in str(error)
        return None
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert min(rgb.shape[:2]) >= MIN_SIDE
    return rgb


@loader_settings
@given(image_arrays(), st.sampled_from(FORMATS))
@pytest.mark.filterwarnings("ignore:Saving I mode images as PNG is deprecated:DeprecationWarning")
def test_any_saved_array_loads_as_rgb_or_is_refused_cleanly(array, image_format):
    data = encoded(array, image_format)
    assume(data is not None)
    rgb = assert_loaded_or_refused(data)
    if min(array.shape[:2]) < MIN_SIDE:
        assert rgb is None  # too small to analyse
        return
    if rgb is None:
        return
    assert rgb.shape[:2] == array.shape[:2]
    if image_format in LOSSLESS and array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        assert (rgb == array).all()
    if image_format in LOSSLESS and array.dtype == np.uint8 and array.ndim == 2:
        assert (rgb == array[..., None]).all()


@loader_settings
@given(image_arrays(), st.sampled_from(FORMATS), st.integers(MIN_SIDE ** 2, 2500))
@pytest.mark.filterwarnings("ignore:Saving I mode images as PNG is deprecated:DeprecationWarning")
def test_images_over_the_working_size_are_shrunk_to_it(array, image_format, working_pixels):
    data = encoded(array, image_format)
    assume(data is not None)
    with pytest.MonkeyPatch.context() as patch:  # a small working size, so that small images cross it
        patch.setattr(imageio, "MAX_WORKING_PIXELS", working_pixels)
        rgb = assert_loaded_or_refused(data)
    if rgb is None:
        return
    (height, width), (shrunk_height, shrunk_width) = array.shape[:2], rgb.shape[:2]
    assert shrunk_height <= height and shrunk_width <= width
    assert 0.5 * min(working_pixels, height * width) <= shrunk_height * shrunk_width <= working_pixels


@st.composite
def damaged_files(draw) -> bytes:
    """A valid small image file, then truncated and with some bytes overwritten."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    picture = rng.integers(0, 256, (draw(st.integers(16, 40)), draw(st.integers(16, 40)), 3), dtype=np.uint8)
    data = bytearray(encoded(picture, draw(st.sampled_from(FORMATS))))
    data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@loader_settings
@given(damaged_files())
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")  # damaged TIFFs, as meant
def test_damaged_files_load_or_are_refused_cleanly(data):
    assert_loaded_or_refused(data)


@st.composite
def zones_and_pores(draw) -> tuple[FaceZones, np.ndarray, float | None]:
    """Random zones (blocks of zone ids, some outside every zone) and a random pore mask inside them."""
    blocks = draw(hnp.arrays(np.uint8, (6, 6), elements=st.integers(0, len(ZONES))))
    labels = np.kron(blocks, np.ones((8, 8), np.uint8))
    speckle = draw(hnp.arrays(np.bool_, (24, 24)))
    mask = np.kron(speckle, np.ones((2, 2), bool)) & (labels > 0)  # pores lie in the analysed region
    mm_per_px = draw(st.none() | st.floats(0.01, 1.0))
    zones = FaceZones(labels, FaceFrame((24.0, 24.0), 20.0, 0.0, True), Landmarks(-0.35, 0.0, 0.85, 0.0, 0.4))
    return zones, mask, mm_per_px


@settings(max_examples=200, deadline=None)
@given(zones_and_pores(), st.sampled_from(sorted(METHODS)))
def test_metrics_add_up_and_stay_in_range(case, method):
    zones, mask, mm_per_px = case
    pores = find_pores(mask, zones)
    metrics = measure(pores, zones, mm_per_px, METHODS[method].reference)
    face, per_zone = metrics.face, metrics.zones.values()

    assert len(pores) == cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    assert (pores.zone_ids > 0).all()  # every pore lies in a zone here
    assert sum(z.pore_count for z in per_zone) == face.pore_count == len(pores)
    assert sum(z.skin_area_px for z in per_zone) == face.skin_area_px == int((zones.labels > 0).sum())
    pore_pixels = sum(z.area_fraction * z.skin_area_px for z in per_zone if z.skin_area_px)
    assert pore_pixels == pytest.approx(mask.sum())
    if face.skin_area_px:
        assert face.area_fraction * face.skin_area_px == pytest.approx(mask.sum()) and face.area_fraction <= 1.0
    for numbers in (face, *per_zone):
        if numbers.skin_area_px == 0:
            assert numbers.score is None and numbers.density_per_cm2 is None
            continue
        assert 0.0 <= numbers.score <= 100.0 and numbers.band == score_band(numbers.score)
        assert numbers.area_fraction >= 0.0
        if mm_per_px is None:
            assert numbers.density_per_cm2 is None and numbers.mean_diameter_mm is None
        else:
            assert numbers.density_per_cm2 >= 0.0
            if numbers.pore_count:
                assert 0.0 < numbers.mean_diameter_mm and 0.0 < numbers.p95_diameter_mm
    json.dumps(metrics.to_dict())


@settings(max_examples=150, deadline=None)
@given(zones_and_pores(), st.sampled_from(sorted(METHODS)), st.data())
def test_removing_pores_never_lowers_a_score(case, method, data):
    zones, mask, mm_per_px = case
    reference = METHODS[method].reference
    count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    assume(count > 1)
    removed = data.draw(st.sets(st.integers(1, count - 1), min_size=1))
    fewer = mask & ~np.isin(components, list(removed))
    before = measure(find_pores(mask, zones), zones, mm_per_px, reference)
    after = measure(find_pores(fewer, zones), zones, mm_per_px, reference)
    for name in ZONES:
        if before.zones[name].score is not None:
            assert after.zones[name].score >= before.zones[name].score
    assert after.face.score >= before.face.score
