"""DoGPore: pores as small, roundish, dark blobs found by a difference of Gaussians on the skin.

The stage-1 label maker of PS-Net (``coarse_labels``) and the product's ``method="dog"``. All work
happens in the bounding box of the region, in float32 luminance:

1. The skin level (local mean) is measured over a window of several pores; pixels
   outside the region take it, so that the borders of eyes, hair or the background do not ring into
   the skin.
2. A band-pass difference of Gaussians, sized by the expected pore diameter, answers positively on dark
   pore-sized blobs.
3. The response is divided by the local contrast of the skin: the RMS of the band's bright (negative)
   side over the same window, floored at sensor-noise level. Pores only push the response up, so this
   measures texture and noise, not pore density. The resulting z-score, thresholded, is an adaptive
   threshold: the same under any exposure, lighting gradient or skin tone, higher on noisy or busy skin.
4. Vetoes: a blob that is not clearly darker than the skin level is the gap between bright bumps; one
   that curves in one direction only is a hair or a wrinkle; one next to a saturated (specular)
   highlight is the highlight's rim or unmeasurable.
5. Hysteresis: components of the weakly pore-like pixels that hold a seed, each trimmed to half of its
   local peak (the pore's visible extent), kept if pore-sized and roundish: moles, nostrils, wrinkles
   and hairs are too large or too long.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.classes import IGNORE

# Band-pass sigmas in pore diameters: the inner Gaussian keeps pixel noise out, the outer one is the skin
# around the pore. With these factors the band answers most strongly to a soft dark disc of one pore
# diameter (measured on rendered discs).
INNER_SIGMA = 0.2
OUTER_SIGMA = 0.8
MIN_SIGMA_PX = 0.5  # below this a Gaussian no longer smooths pixels
# Window (Gaussian sigma, in pore diameters) of the local contrast and skin level: many pores' worth of
# skin, small enough to follow a lighting gradient across the cheek.
CONTRAST_WINDOW = 5.0
# The weakest local contrast believed, in grey levels: JPEG rounding and sensor noise are at least about
# this large, so on flat skin a pore must stand out from them.
NOISE_FLOOR_GREY_LEVELS = 2.0
# z thresholds of the hysteresis: pixels above Z_LOW may belong to a pore, a pore needs one above Z_SEED.
Z_LOW = 2.0
Z_SEED = 3.0
# The response (pore-likeness) rises from 0 at Z_LOW to 1 at Z_STRONG.
Z_STRONG = 5.0
# A pore's pixels: at least EXTENT_OF_PEAK of the strongest response within LOCAL_PEAK_REACH diameters.
EXTENT_OF_PEAK = 0.5
LOCAL_PEAK_REACH = 1.6
# A pore's centre is at least this much (relative) darker than the skin level around it.
DARKER_THAN_SKIN = 0.04
# Smaller over larger principal curvature of the response at a pore's peak: 1 round, 0 a line.
MIN_BLOBNESS = 0.1
# Component filters: equivalent diameter in pore diameters, and the ratio of its principal axes; and
# the smallest area in pixels, as one or two dark pixels cannot be told from noise or JPEG rounding.
DIAMETER_RANGE = (0.4, 1.8)
MIN_AREA_PX = 3
MAX_ELONGATION = 3.0
# Saturated highlights hide the skin's true brightness; pores are kept this many diameters away.
SATURATED = 250
HIGHLIGHT_RIM = 0.8
# Coarse labels: pores whose peak response reaches POSITIVE_PEAK are positives; skin is confidently free
# of pores where the response is below NEGATIVE_BELOW and no pore-like pixel (above UNCERTAIN_ABOVE) or
# pore lies within a pore diameter.
POSITIVE_PEAK = 0.6
NEGATIVE_BELOW = 0.05
UNCERTAIN_ABOVE = 0.15


@dataclass
class DogResult:
    mask: np.ndarray  # HxW bool, pore pixels
    response: np.ndarray  # HxW float32 in [0, 1]: pore-likeness, 0 outside the region
    pore_px: float  # the expected pore diameter the filters were sized for


def dog_pores(rgb: np.ndarray, region: np.ndarray, pore_px: float) -> DogResult:
    """Pores of an RGB image (HxWx3 uint8) inside ``region`` (HxW bool), expected ``pore_px`` wide."""
    region = np.asarray(region, bool)
    h, w = region.shape
    mask, response = np.zeros((h, w), bool), np.zeros((h, w), np.float32)
    x, y, box_w, box_h = cv2.boundingRect(np.ascontiguousarray(region).view(np.uint8))
    if box_w == 0:
        return DogResult(mask, response, pore_px)
    pad = int(np.ceil(3 * OUTER_SIGMA * pore_px)) + 1
    box = (slice(max(0, y - pad), min(h, y + box_h + pad)), slice(max(0, x - pad), min(w, x + box_w + pad)))
    mask[box], response[box] = _detect(np.asarray(rgb)[box], region[box], pore_px)
    return DogResult(mask, response, pore_px)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), max(MIN_SIGMA_PX, sigma_px))


def band_pass(image: np.ndarray, inner_px: float, outer_px: float) -> np.ndarray:
    """Difference of Gaussians, positive on dark blobs between the two scales (sigmas in pixels)."""
    return blur(image, outer_px) - blur(image, inner_px)


def _detect(rgb: np.ndarray, region: np.ndarray, pore_px: float) -> tuple[np.ndarray, np.ndarray]:
    lum = luminance(rgb)
    local = WindowMeans(region, CONTRAST_WINDOW * pore_px)
    skin_level = local(lum)
    filled = np.where(region, lum, skin_level)
    inner, outer = blur(filled, INNER_SIGMA * pore_px), blur(filled, OUTER_SIGMA * pore_px)
    pore_band = outer - inner

    bright_side = np.minimum(pore_band, 0)
    contrast = np.sqrt(2 * local(bright_side * bright_side))
    z = pore_band / np.maximum(contrast, NOISE_FLOOR_GREY_LEVELS)
    allowed = (region & (z >= Z_LOW) & (inner < (1 - DARKER_THAN_SKIN) * skin_level)
               & ~saturated_rims(rgb, pore_px))
    blob = blobness(pore_band, allowed)
    response = np.clip((z - Z_LOW) / (Z_STRONG - Z_LOW), 0, 1) * np.clip(blob / MIN_BLOBNESS, 0, 1)

    local_peak = cv2.dilate(pore_band, disc(LOCAL_PEAK_REACH * pore_px))
    candidates = allowed & (pore_band >= EXTENT_OF_PEAK * local_peak)
    return pore_components(candidates, z - Z_SEED, blob, pore_px), response.astype(np.float32)


class WindowMeans:
    """Gaussian means over the region's pixels (normalised convolution) in a wide window, computed on a
    reduced grid; where no region pixel is near, the region's overall mean."""

    def __init__(self, region: np.ndarray, sigma: float):
        self.shape = region.shape
        self.factor = max(1, int(sigma // 4))
        h, w = self.shape
        self.small_size = (max(1, w // self.factor), max(1, h // self.factor))
        self.sigma = sigma / self.factor
        self.weight = self.shrink(region.astype(np.float32))
        self.weight_sum = cv2.GaussianBlur(self.weight, (0, 0), self.sigma)

    def shrink(self, values: np.ndarray) -> np.ndarray:
        return cv2.resize(values, self.small_size, interpolation=cv2.INTER_AREA)

    def small(self, values: np.ndarray) -> np.ndarray:
        """The means on the reduced grid."""
        weighted = self.shrink(values) * self.weight
        value_sum = cv2.GaussianBlur(weighted, (0, 0), self.sigma)
        overall = float(weighted.sum() / max(self.weight.sum(), 1e-6))
        reached = self.weight_sum > 1e-3
        return np.where(reached, value_sum / np.where(reached, self.weight_sum, 1), overall).astype(np.float32)

    def full(self, small: np.ndarray) -> np.ndarray:
        return cv2.resize(small, self.shape[::-1], interpolation=cv2.INTER_LINEAR)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return self.full(self.small(values))


def disc(diameter: float) -> np.ndarray:
    size = max(3, int(round(diameter)) // 2 * 2 + 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def blobness(response: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Smaller over larger principal curvature of the band-pass response at the pixels ``where`` (0
    elsewhere): near 1 on round dark blobs, near 0 on dark lines (hairs, wrinkles), negative on saddles
    and where the response is not a peak."""
    ys, xs = np.nonzero(where)
    # Negated second derivatives: a peak of the response curves down, a dark blob is a peak.
    dxx = -cv2.Sobel(response, cv2.CV_32F, 2, 0, ksize=3)[ys, xs]
    dyy = -cv2.Sobel(response, cv2.CV_32F, 0, 2, ksize=3)[ys, xs]
    dxy = -cv2.Sobel(response, cv2.CV_32F, 1, 1, ksize=3)[ys, xs]
    half_trace = (dxx + dyy) / 2
    spread = np.sqrt(((dxx - dyy) / 2) ** 2 + dxy ** 2)
    larger, smaller = half_trace + spread, half_trace - spread
    out = np.zeros(response.shape, np.float32)
    out[ys, xs] = np.where(larger > 0, smaller / np.maximum(larger, 1e-12), -1)
    return out


def saturated_rims(rgb: np.ndarray, pore_px: float) -> np.ndarray:
    """Saturated (specular) pixels and a rim of ``HIGHLIGHT_RIM`` pore diameters around them."""
    brightest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    saturated = (brightest >= SATURATED).astype(np.uint8)
    return cv2.dilate(saturated, disc(2 * HIGHLIGHT_RIM * pore_px + 1)).astype(bool)


def pore_components(candidates: np.ndarray, above_seed: np.ndarray, blob: np.ndarray, pore_px: float) -> np.ndarray:
    """The connected components of ``candidates`` that are pores: a seed (``above_seed`` >= 0) at their
    peak, blob-shaped (not line-shaped) there, pore-sized and roundish."""
    count, components = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(candidates.shape, bool)
    ys, xs = np.nonzero(candidates)
    ids = components[ys, xs]
    order = np.lexsort((above_seed[ys, xs], ids))  # by component, the most seed-like pixel last
    peaks = order[np.r_[np.nonzero(np.diff(ids[order]))[0], len(order) - 1]]
    peak_above_seed = np.full(count, -np.inf, np.float32)
    peak_blob = np.zeros(count, np.float32)
    peak_above_seed[ids[peaks]] = above_seed[ys[peaks], xs[peaks]]
    peak_blob[ids[peaks]] = blob[ys[peaks], xs[peaks]]

    area = np.bincount(ids, minlength=count).astype(np.float64)
    safe_area = np.maximum(area, 1)
    mean_x, mean_y = np.bincount(ids, xs, count) / safe_area, np.bincount(ids, ys, count) / safe_area
    dx, dy = xs - mean_x[ids], ys - mean_y[ids]
    # A pixel is a unit square: its own second moment (1/12) keeps one-pixel-wide shapes finite.
    var_x = np.bincount(ids, dx * dx, count) / safe_area + 1 / 12
    var_y = np.bincount(ids, dy * dy, count) / safe_area + 1 / 12
    cov = np.bincount(ids, dx * dy, count) / safe_area
    spread = np.sqrt(((var_x - var_y) / 2) ** 2 + cov ** 2)
    elongation = np.sqrt(((var_x + var_y) / 2 + spread) / ((var_x + var_y) / 2 - spread))
    diameter = np.sqrt(4 * area / np.pi) / pore_px

    keep = ((peak_above_seed >= 0) & (peak_blob >= MIN_BLOBNESS) & (elongation <= MAX_ELONGATION)
            & (diameter >= DIAMETER_RANGE[0]) & (diameter <= DIAMETER_RANGE[1]) & (area >= MIN_AREA_PX))
    keep[0] = False
    return keep[components]


def coarse_labels(result: DogResult, region: np.ndarray) -> np.ndarray:
    """Stage-1 labels for PS-Net (HxW uint8): 1 pore, 0 skin confidently without a pore, IGNORE (255)
    for everything uncertain and outside ``region``. Precision first, since a pore missed here costs less
    than a false one taught: positives are the pores whose peak response is strong; weak pores, pore-like
    pixels that are not pores (lines, large blobs) and a pore diameter around all of them are ignored."""
    region = np.asarray(region, bool)
    labels = np.full(region.shape, IGNORE, np.uint8)
    pore_like = (result.response >= UNCERTAIN_ABOVE) | result.mask
    near_pore_like = cv2.dilate(pore_like.astype(np.uint8), disc(2 * result.pore_px + 1)).astype(bool)
    labels[region & (result.response < NEGATIVE_BELOW) & ~near_pore_like] = 0
    count, pores = cv2.connectedComponents(result.mask.astype(np.uint8), connectivity=8)
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, pores[result.mask], result.response[result.mask])
    strong = peak >= POSITIVE_PEAK
    strong[0] = False
    labels[region & strong[pores]] = 1
    return labels
