"""The quality gate before pore analysis: can this photo show pores, and how far can its numbers be trusted?

Each check measures one thing and compares it with a documented limit. A *blocking* check that fails
means pores cannot be measured in this photo: the analysis then reports no pore numbers (None) and
says why, but still shows what is reliable (face parsing, zones). The other checks only warn.

| check | measures | limit | blocking |
|---|---|---|---|
| face_size | eye distance in pixels | >= 48 px | yes |
| resolution | expected pore diameter in pixels | >= 2.4 px | yes |
| detail | expected pore diameter in pixels (when resolved) | >= 3.2 px | no: only larger pores are seen |
| sharpness | fine-over-coarse texture energy on the skin | >= 0.2 | yes |
| faint | typical depth of the skin's detail at the pore scale, in grey levels | >= 1.0 | no: pore numbers uncertain |
| dark | median skin grey level | >= 40 | no |
| overexposed | share of skin pixels with a saturated channel | <= 0.15 | no |
| occlusion | share of the face oval hidden by hair or objects | <= 0.5 | no |
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from poreseg.classes import HAIR, OCCLUDER
from poreseg.zones import FaceFrame, face_oval_mask

# Below this eye distance the parser sees the face at under a quarter of its input size and the zones
# lose their shape (the face is then about 150 px tall).
MIN_EYE_DISTANCE_PX = 48.0
# Where the pore detectors stop seeing what they see at full resolution: sharp close-ups downscaled step
# by step (``python -m poreseg.training.pore_checks``, resolution survival) keep under half of their
# full-resolution pores once a typical pore is 2.0-2.8 px wide (DoGPore; PS-Net, which enlarges small
# pores to 4 px before it looks, holds on to 1.3-2.1 px), about 2.4 px in the middle. Below MIN_PORE_PX
# the pore numbers would be mostly missed pores: they are not given. PS-Net's gate is not lowered to its
# own collapse point: real photos taken farther away cost more than downscaling does. On one face at 30 cm
# (2.2 px) it finds 51% of its 15 cm pores again, and 72% of what it finds there are not 15 cm pores, where
# a copy of the 15 cm photo downscaled to the same size keeps 78% (pore_checks, zoom re-finding); on the
# same skin it finds 1.8 times as many pores there as at 15 cm.
MIN_PORE_PX = 2.4
# From here about 70% or more of the full-resolution pores are still found; between the two limits the
# smaller pores are missed and counts are lower bounds.
DETAILED_PORE_PX = 3.2
# Sharpness: RMS of the finest texture band over a band eight times coarser, on the skin, at a scale
# where a pore is SHARPNESS_PORE_PX wide. Portraits measured 0.19-1.17 (21 MST-E portraits and 5
# examples); the only one under the limit (0.19) shows no pore texture at 1:1. The same photos blurred
# by a Gaussian of sigma one pore diameter measured 0.09-0.21, all but one under the limit.
MIN_SHARPNESS = 0.2
SHARPNESS_PORE_PX = 2.0
FINE_SIGMA_PX, COARSE_SIGMA_PX = 0.5, 4.0
MIN_SHARPNESS_PIXELS = 400  # of skin clear of the region's border, for the measure to mean anything
# Faint detail: the robust standard deviation (1.4826 x the median absolute deviation), in grey levels, of
# the skin's detail at the pore scale (a band between Gaussians of DETAIL_SIGMAS_PX, at the sharpness
# check's scale). Below MIN_DETAIL_GREY 1:1 crops show a person no pores, or barely any (looked at from
# 0.6 to 0.96): 25 of the 60 MST-E portraits with an eye scale measured 0.3-0.97 (dim indoor shots, soft
# or smoothed pictures), the other 35 1.0-8.0, the 15 cm close-up of cc0_lisa 1.4. On those 25 PS-Net
# still outlines a median 11.4 blobs per cm2 of the skin's relief and noise, against 18.1 on the others
# (DoGPore 3.0 and 9.8). A warning, not a gate: hand-marked pores of a real close-up were only about 1.8
# grey levels deep.
MIN_DETAIL_GREY = 1.0
DETAIL_SIGMAS_PX = (0.5, 1.6)  # 0.25 and 0.8 of a pore SHARPNESS_PORE_PX wide
# Exposure: a median skin grey level below MIN_MEDIAN_GREY is underexposed on any skin tone (Monk 9-10
# skin in good light measured 65-104 on MST-E; its dim indoor shots 18-38); saturated pixels hide pores.
MIN_MEDIAN_GREY = 40.0
SATURATED_GREY = 250
MAX_SATURATED_SHARE = 0.15
MAX_HIDDEN_SHARE = 0.5


@dataclass
class QualityCheck:
    name: str
    value: float
    limit: float
    passed: bool
    blocking: bool  # a failure means pores cannot be measured
    message: str  # what the failure means, in plain words ("" when passed)


@dataclass
class Quality:
    checks: list[QualityCheck]

    @property
    def pores_measurable(self) -> bool:
        return all(c.passed for c in self.checks if c.blocking)

    def warnings(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {"pores_measurable": self.pores_measurable,
                "checks": [{**asdict(c), "value": round(c.value, 4), "limit": round(c.limit, 4)} for c in self.checks]}


def check(name: str, value: float, limit: float, at_least: bool, blocking: bool, message: str) -> QualityCheck:
    passed = value >= limit if at_least else value <= limit
    return QualityCheck(name, float(value), float(limit), bool(passed), blocking, "" if passed else message)


def skin_detail(rgb: np.ndarray, region: np.ndarray, pore_px: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The grey levels (float32) of the region's box at the scale where a pore is SHARPNESS_PORE_PX wide,
    and the skin there clear of the region's border (where skin meets hair or an eye); None when too
    little skin is left."""
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(region).view(np.uint8))  # scans, does not list, the pixels
    if w == 0:
        return None
    box = slice(y, y + h), slice(x, x + w)
    crop, inside = np.asarray(rgb)[box], region[box].astype(np.uint8)
    scale = min(1.0, SHARPNESS_PORE_PX / pore_px)
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        inside = cv2.resize(inside, size, interpolation=cv2.INTER_NEAREST)
    reach = int(np.ceil(2 * COARSE_SIGMA_PX))
    inside = cv2.erode(inside, np.ones((2 * reach + 1,) * 2, np.uint8)).astype(bool)
    if inside.sum() < MIN_SHARPNESS_PIXELS:
        return None
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32), inside


def sharpness(grey: np.ndarray, inside: np.ndarray) -> float | None:
    """Fine-over-coarse texture energy of the skin (see MIN_SHARPNESS) from ``skin_detail``; None without
    any coarse texture."""
    # Log grey level: texture as relative contrast, the same on pale and dark skin and at any exposure.
    log_lum = np.log(grey + 4.0)

    def band_rms(sigma: float) -> float:
        band = cv2.GaussianBlur(log_lum, (0, 0), sigma) - cv2.GaussianBlur(log_lum, (0, 0), 2 * sigma)
        return float(np.sqrt(np.mean(band[inside] ** 2)))

    coarse = band_rms(COARSE_SIGMA_PX)
    return band_rms(FINE_SIGMA_PX) / coarse if coarse > 0 else None


def detail_depth(grey: np.ndarray, inside: np.ndarray) -> float:
    """The typical depth, in grey levels, of the skin's detail at the pore scale (see MIN_DETAIL_GREY) from
    ``skin_detail``. Grey levels, not relative contrast: what a person can see on a screen."""
    inner, outer = DETAIL_SIGMAS_PX
    band = (cv2.GaussianBlur(grey, (0, 0), outer) - cv2.GaussianBlur(grey, (0, 0), inner))[inside]
    return 1.4826 * float(np.median(np.abs(band - np.median(band))))


def hidden_share(labels: np.ndarray, frame: FaceFrame) -> float:
    """Share of the face oval labelled hair or occluder (fringes, hands, masks, glasses)."""
    oval = face_oval_mask(frame, labels.shape)
    return float(np.isin(labels[oval], (HAIR, OCCLUDER)).mean()) if oval.any() else 0.0


def assess(rgb: np.ndarray, labels: np.ndarray, region: np.ndarray, frame: FaceFrame, pore_px: float) -> Quality:
    """All checks for one face: ``region`` is the analysis region, ``pore_px`` the expected pore diameter.
    A check with nothing to look at is left out (no skin: no exposure check), and so are the finer pore
    checks (detail, sharpness) when pores cannot be resolved at all: one clear reason is enough."""
    checks = [
        check("face_size", frame.eye_distance_px, MIN_EYE_DISTANCE_PX, True, True,
              f"The face is too small ({frame.eye_distance_px:.0f} px between the eyes; at least "
              f"{MIN_EYE_DISTANCE_PX:.0f} needed): pores are not measured and the zones are approximate."),
        check("resolution", pore_px, MIN_PORE_PX, True, True,
              f"Pores cannot be resolved at this resolution (a typical pore would be {pore_px:.1f} px wide; at "
              f"least {MIN_PORE_PX:.1f} px needed): move closer or use a higher-resolution photo."),
    ]
    resolved = pore_px >= MIN_PORE_PX
    if resolved:
        checks.append(check("detail", pore_px, DETAILED_PORE_PX, True, False,
                            f"Pores are near the limit of this photo's resolution ({pore_px:.1f} px wide): only "
                            "the larger pores are counted, so counts and densities are lower bounds and the "
                            "score is flattering."))
    if region.any():
        # By flat index: a boolean mask over the pixels of an HxWx3 array gathers several times slower.
        skin = np.ascontiguousarray(rgb).reshape(-1, 3).take(np.flatnonzero(region), axis=0)
        grey = cv2.cvtColor(skin[None], cv2.COLOR_RGB2GRAY)[0]
        detail = skin_detail(rgb, region, pore_px) if resolved else None
        if detail is not None:
            sharp = sharpness(*detail)
            if sharp is not None:
                checks.append(check("sharpness", sharp, MIN_SHARPNESS, True, True, "The skin looks blurred (focus, "
                                    "motion or heavy smoothing): pores are not measured."))
            depth = detail_depth(*detail)
            checks.append(check("faint", depth, MIN_DETAIL_GREY, True, False,
                                f"The skin's fine detail is faint in this photo ({depth:.1f} grey levels deep; "
                                f"pores show from about {MIN_DETAIL_GREY:.0f}): in dim light or a soft picture, "
                                "pores are hard to tell from the skin's relief and noise, so the pore numbers are "
                                "uncertain (PS-Net tends to count too many; DoGPore is the more conservative "
                                "reading). Brighter, even light helps."))
        checks += [
            check("dark", float(np.median(grey)), MIN_MEDIAN_GREY, True, False,
                  "The face is too dark: pores may be missed. Use more even, brighter light."),
            check("overexposed", float((np.maximum(np.maximum(skin[:, 0], skin[:, 1]), skin[:, 2]) >= SATURATED_GREY
                                         ).mean()), MAX_SATURATED_SHARE, False,
                  False, "Much of the skin is overexposed (pure white): pores there are missed. Avoid direct flash "
                  "or sun."),
        ]
    checks.append(check("occlusion", hidden_share(labels, frame), MAX_HIDDEN_SHARE, False, False,
                        "Most of the face is covered (hair, hands, a mask or glasses): only the visible skin is "
                        "measured."))
    return Quality(checks)
