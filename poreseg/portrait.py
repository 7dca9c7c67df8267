"""Portrait (person) segmentation at full resolution with clean edges."""
from __future__ import annotations

import cv2
import numpy as np

from poreseg.imageio import as_rgb8
from poreseg.inference import ModelSession
from poreseg.parsing import normalise

INPUT_SIZE = 256  # the network's input side (PortraitNet.input_size, which a test holds equal)
# The network also looks at the photo at twice that size and the two answers are combined (``coarse``): at
# 256 px a person a tenth of the photo's height is 25 px tall, too small for it.
DETAIL_SIZE = 2 * INPUT_SIZE
REFINE_MAX_SIDE = 1024  # the guided filter's coefficients are fitted at this size at most ...
MATTE_MAX_SIDE = 2048  # ... and applied to the photo at this size at most (larger photos: resized up from it)
# A larger photo is halved exactly (2x2 means: 10 ms at 12 MP, where an area resize to 2048 px took
# 70-110 ms) as long as the half keeps this share of MATTE_MAX_SIDE: a 4000x3000 photo's matte is applied
# at 2000x1500 instead of 2048x1536.
MATTE_HALVING_SHARE = 0.9
# Matte values below the first / above the second become fully transparent / opaque: a faint haze of
# background (the network's 0.1-0.3 on a busy wall) would otherwise show through the cut-out as a ghost.
# Symmetric around 0.5, so the person mask thresholded at 0.5 does not change.
MATTE_TRANSPARENT, MATTE_OPAQUE = 0.25, 0.75


def _box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(x, cv2.CV_32F, (2 * radius + 1, 2 * radius + 1))


def guided_filter_coefficients(guide: np.ndarray, source: np.ndarray, radius: int, eps: float
                               ) -> tuple[np.ndarray, np.ndarray]:
    """He et al.'s guided filter (grey guide) as its smoothed linear coefficients: the filtered map is
    ``a * guide + b``. Being smooth, ``a`` and ``b`` can be fitted on a small copy and applied to a large
    guide (He and Sun's fast guided filter), so the edges follow the large image."""
    mean_i, mean_p = _box_mean(guide, radius), _box_mean(source, radius)
    cov_ip = _box_mean(guide * source, radius) - mean_i * mean_p
    var_i = _box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box_mean(a, radius), _box_mean(b, radius)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): snaps a smooth map to the image's edges."""
    a, b = guided_filter_coefficients(guide, source, radius, eps)
    return a * guide + b


def _resized(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    return rgb if scale == 1 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                             interpolation=cv2.INTER_AREA)


def _matte_view(rgb: np.ndarray) -> np.ndarray:
    """The photo at the size its matte is applied at: halved while the half keeps MATTE_HALVING_SHARE of
    MATTE_MAX_SIDE, then shrunk to at most MATTE_MAX_SIDE."""
    view = rgb
    while max(view.shape[:2]) / 2 >= MATTE_HALVING_SHARE * MATTE_MAX_SIDE:
        h, w = view.shape[:2]
        view = cv2.resize(view, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    return _resized(view, MATTE_MAX_SIDE)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1 / 255)


class PortraitSegmenter(ModelSession):
    """The portrait network's session (poreseg.inference.ModelSession); call it on RGB images."""

    weights_name = "portrait"

    def evidence_at(self, rgb: np.ndarray, size: int) -> np.ndarray:
        """The network's person logit minus its background logit on the photo resized to ``size`` square,
        at its output resolution."""
        view = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        background, person = self.run(normalise(view))[0]
        return person - background

    def coarse(self, rgb: np.ndarray) -> np.ndarray:
        """Person probability at the network's output resolution for DETAIL_SIZE, from the mean of its
        evidence (logits) on the photo at INPUT_SIZE (enlarged) and at DETAIL_SIZE: a confident answer
        outweighs an unsure one, which a mean of probabilities would not do."""
        detail = self.evidence_at(rgb, DETAIL_SIZE)
        whole = cv2.resize(self.evidence_at(rgb, INPUT_SIZE), detail.shape[::-1], interpolation=cv2.INTER_LINEAR)
        # The softmax of two logits is the sigmoid of their difference (as a tanh, which cannot overflow).
        return np.tanh((whole + detail) / 4) / 2 + 0.5

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """The network sees the photo at 256x256 and at 512x512 (``coarse``). Its person probability is
        enlarged to a copy of at most 1024 px, where a guided filter (grey guide, radius 1/160 of the long
        side) fits the linear coefficients that snap it to the photo's edges; they are applied to the photo
        at up to 2048 px (fast guided filter), so the edges follow the photo at that resolution, and the
        result is resized to full size if larger. Finally the matte is stretched so that values below 0.25 are
        fully transparent and above 0.75 fully opaque: no haze of background in the cut-out."""
        h, w = rgb.shape[:2]
        matte_view = _matte_view(rgb)
        # Both smaller copies come from the largest one needed: a large photo is shrunk once from full size.
        refine_view = _resized(matte_view, REFINE_MAX_SIDE)
        rh, rw = refine_view.shape[:2]
        probability = cv2.resize(self.coarse(refine_view), (rw, rh), interpolation=cv2.INTER_LINEAR)
        a, b = guided_filter_coefficients(_grey(refine_view), probability, max(2, round(max(rw, rh) / 160)), 1e-3)
        mh, mw = matte_view.shape[:2]
        if (mh, mw) != (rh, rw):
            a = cv2.resize(a, (mw, mh), interpolation=cv2.INTER_LINEAR)
            b = cv2.resize(b, (mw, mh), interpolation=cv2.INTER_LINEAR)
        matte = a * _grey(matte_view) + b
        matte -= MATTE_TRANSPARENT
        matte *= 1 / (MATTE_OPAQUE - MATTE_TRANSPARENT)
        # Clipped before enlarging: linear interpolation stays within [0, 1], and clipping 12 MP costs.
        np.clip(matte, 0.0, 1.0, out=matte)
        return matte if (mh, mw) == (h, w) else cv2.resize(matte, (w, h), interpolation=cv2.INTER_LINEAR)


def person_alpha(probability: np.ndarray) -> np.ndarray:
    """HxW uint8 opacity of a person probability (``segment_portrait``, in [0, 1]): 255 x it, rounded. A
    quarter of the float map's memory (36 MB less for a 12 MP photo, which an analysis keeps for its
    cut-out); OpenCV's one pass takes 5 ms at 12 MP where numpy's four took 50 ms."""
    return cv2.convertScaleAbs(np.asarray(probability, np.float32), alpha=255)


def segment_portrait(rgb: np.ndarray) -> np.ndarray:
    """Person probability (HxW float32 in [0, 1]) of an RGB image, at the image's size."""
    return PortraitSegmenter.shared()(as_rgb8(rgb))
