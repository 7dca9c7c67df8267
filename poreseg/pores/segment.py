"""Pore segmentation of a photo: the region to analyse, the pore scale, then PS-Net (or DoGPore).

PS-Net runs on the bounding box of the region only, in tiles: each tile is the network's input with
``TILE_MARGIN`` pixels of context on every side, of which only the inner part (the core) is kept. The
network's activations thus stay bounded on 12 MP photos (only the prepared input and the output maps
grow with the region), and the cores fit together without seams: tiles start on the network's 16-pixel
grid and share their Monte-Carlo draws, so a tiled image gives the same answer as one pass would, up to
the small influence of what lies beyond a tile's margin.

Scale: the network learned pores at the photos' native sizes (about 3-10 px). A photo whose pores are
larger than ``MAX_PORE_PX`` (a close-up) is first shrunk so that they are that large: faster, and within
what the network saw. One whose pores are smaller than ``MIN_WORKING_PORE_PX`` is enlarged so that they
are that large: at its native size the network lost half of a close-up's pores once they were 3 px wide,
while enlarged it keeps most of them down to 2 px (``pore_checks``' resolution survival), and so counts
the same skin alike at every distance that passes the quality gate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from poreseg.imageio import as_rgb8
from poreseg.inference import ALL_THREADS, ModelSession
from poreseg.memory import release_freed_memory
from poreseg.pores.dog import component_peaks, disc, dog_pores_in_box, equivalent_diameter
from poreseg.pores.methods import DEFAULT_METHOD, METHODS
from poreseg.pores.scale import estimate_pore_px, pore_px_from_mm_per_px

# A pore is drawn as uncertain when the Monte-Carlo spread (2 x std) somewhere in it reaches this: the
# draws disagree by at least +-0.15 in probability, i.e. the Bayesian module is unsure whether it is one.
UNCERTAIN_PORE = 0.3
# Specks narrower than this many expected pore diameters are not pores: hand-marked pores are at least
# 0.65 of the median (10th percentile), and dropping the network's specks below half of it removed 37% of
# its false detections on the structures benchmark at an unchanged pixel Dice on rendered pores.
MIN_PORE_DIAMETER = 0.5
# Neighbouring pores above the threshold merge into one blob: 40-48% of the network's pore area on sharp
# faces lay in blobs over 2 pore diameters wide, where hand-marked pores are at most 1.43 (90th
# percentile). A blob wider than SPLIT_DIAMETER is cut between its probability peaks (the maxima within a
# disc PEAK_SEPARATION pore diameters wide, so at least 0.75 of a pore apart) that a valley separates:
# rendered pores found (object recall) 0.39 -> 0.46 at a pixel Dice of 0.503 -> 0.502, 90th-percentile
# width 2.07-2.30 -> 1.80-2.00 pore diameters; on the 15 cm close-up 1243 -> 1445 pores. Cutting at every
# peak found 0.48 but moved with JPEG noise (Monk gap 0.091 -> 0.100; with the valleys 0.098).
SPLIT_DIAMETER = 1.5
PEAK_SEPARATION = 1.5
# Wider dark areas are not merged pores (and cutting one costs a distance map per peak): left whole.
MAX_SPLIT_DIAMETER = 8.0
# Pixels whose distances to their two nearest peaks differ by less than this are the cut: at least one
# pixel across, and wide enough that no two pixels on either side of it touch diagonally.
CUT_WIDTH_PX = 1.5
# Two peaks are two pores only if the probability between them dips below this share of the lower one.
VALLEY_SHARE = 0.9
VALLEY_REACH = 2.0  # pore diameters: peaks farther apart are compared only through the peaks between them
MIN_WORKING_PORE_PX = 4.0
MAX_PORE_PX = 8.0
TILE_CORE_MAX = 704  # output pixels per tile side at most; a tile is at most 704 + 2 * 32 = 768 px
INPUT_MULTIPLE = 16  # tile sides are multiples of PS-Net's deepest stride (psnet_net.INPUT_MULTIPLE; tested)
TILE_MARGIN = 32  # context pixels around each tile's core; a multiple of INPUT_MULTIPLE

# Input normalisation: log intensity minus its local (Gaussian) mean, per colour. Exposure, skin tone
# and smooth lighting gradients become (nearly) zero; what remains is relative contrast, of which a pore
# is a few tenths.
LOG_OFFSET = 4.0  # grey levels added before the logarithm, so noise in near-black pixels stays small
LIGHTING_SIGMA_PX = 16.0  # twice the largest working pore: pores stay in, lighting goes out
LIGHTING_STRIDE = 8  # the local mean is smooth: computed at 1/8 size, where its blur is cheap
CONTRAST_GAIN = 10.0  # relative contrast of 0.1 (a clear pore) -> 1.0
SCALED_LOG = CONTRAST_GAIN * np.log(np.arange(256, dtype=np.float32) + LOG_OFFSET)  # per grey level


class PoreError(ValueError):
    """The pores of this input cannot be segmented (no face, empty region, mismatched mask); one line."""


@dataclass
class PoreMaps:
    """The per-pixel maps of a pore result, computed and kept in a box of the frame (the region's bounding
    box), zero outside it: the frame-sized copies (about 100 MB at 12 MP) are made only when asked for."""

    probability: np.ndarray  # box-sized float32
    uncertainty: np.ndarray  # box-sized float32
    origin: tuple[int, int]  # (x, y) of the box's top-left pixel in the frame
    shape: tuple[int, int]  # the frame's (height, width)

    def in_frame(self, part: np.ndarray) -> np.ndarray:
        full = np.zeros(self.shape, part.dtype)
        x0, y0 = self.origin
        full[y0:y0 + part.shape[0], x0:x0 + part.shape[1]] = part
        return full


@dataclass
class PoreResult:
    mask: np.ndarray  # HxW bool, pore pixels (only inside the analysed region)
    maps: PoreMaps | None  # behind probability and uncertainty; None in an app session (views.Session)
    mm_per_px: float | None  # face scale, None when unknown (no eyes, or a mask without a scale)
    method: str
    pore_px: float  # expected pore diameter in pixels of the input
    # (K, 2) int32 (y, x): one pixel of each pore the network is unsure of (UNCERTAIN_PORE); none for "dog".
    # Points, not a map: sessions keep results for minutes.
    uncertain: np.ndarray

    @property
    def probability(self) -> np.ndarray | None:
        """HxW float32 in [0, 1]; DoGPore's pore-likeness for "dog"; 0 outside the region."""
        return None if self.maps is None else self.maps.in_frame(self.maps.probability)

    @property
    def uncertainty(self) -> np.ndarray | None:
        """HxW float32 in [0, 1]: 2 x std of the Monte-Carlo draws; zeros for "dog"."""
        return None if self.maps is None else self.maps.in_frame(self.maps.uncertainty)


def prepare_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> (1, 3, H, W) float32 network input; the same for training and inference.

    The array is a view of an HxWx3 array, i.e. in channels-last memory order: as a torch tensor
    (training), the networks' depthwise convolutions run several times faster in it than in the
    default order.
    """
    h, w = rgb.shape[:2]
    log_rgb = cv2.LUT(np.ascontiguousarray(rgb), SCALED_LOG)
    small_size = (max(1, math.ceil(w / LIGHTING_STRIDE)), max(1, math.ceil(h / LIGHTING_STRIDE)))
    level = cv2.GaussianBlur(cv2.resize(log_rgb, small_size, interpolation=cv2.INTER_AREA), (0, 0),
                             LIGHTING_SIGMA_PX / LIGHTING_STRIDE)
    relative = cv2.subtract(log_rgb, cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR), dst=log_rgb)
    return relative.transpose(2, 0, 1)[None]


def working_scale(pore_px: float) -> float:
    """Resize factor that brings pores of ``pore_px`` within MIN_WORKING_PORE_PX..MAX_PORE_PX (1 when they are)."""
    return min(MAX_PORE_PX / pore_px, max(1.0, MIN_WORKING_PORE_PX / pore_px))


def tile_starts(length: int) -> tuple[list[int], int]:
    """Core starts along one side and the core size (a multiple of INPUT_MULTIPLE): as few tiles as
    TILE_CORE_MAX allows, each as small as covering ``length`` allows."""
    count = math.ceil(length / TILE_CORE_MAX)
    core = INPUT_MULTIPLE * math.ceil(length / count / INPUT_MULTIPLE)
    return [i * core for i in range(count)], core


def bounding_box(region: np.ndarray) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the nonzero pixels (of a region that has some)."""
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(region).view(np.uint8))
    return x, y, x + w, y + h


class PoreSegmenter(ModelSession):
    """PS-Net's session (poreseg.inference.ModelSession; ``from_net`` also takes a PlainUNet, e.g. a
    checkpoint under evaluation, and ``samples``, its Monte-Carlo draws); call it on an RGB image (HxWx3
    uint8), the region to analyse (HxW bool) and the expected pore diameter in pixels."""

    weights_name = "psnet"
    threads = ALL_THREADS
    # Measured on a 768 px tile (2 cores): ONNX Runtime's blocked memory layout and memory pattern held
    # 220 MB after tiles of a few sizes, without them 97 MB, at the same speed (51 ms either way on a
    # 736x496 tile). The two small networks keep them: they run twice as fast with the blocked layout.
    lean = True

    @property
    def threshold(self) -> float:
        """The calibrated probability from which a pixel is a pore, chosen on validation data."""
        return float(self.metadata["threshold"])

    def probability(self, x: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(probability, uncertainty) at the size of a prepared input ``x``, computed tile by tile inside
        ``box`` (x0, y0, x1, y1) and zero outside it. Beyond ``x`` the tiles see zeros, which after
        ``prepare_input`` means skin at its local level.

        The mean of two passes: over ``x`` and, mirrored back, over ``x`` mirrored left to right, each
        with the tiles laid out from the box's left edge. The network's strided layers are not
        mirror-symmetric, and alone it gave a mirrored face only 62% of the same pores (Dice), most on
        dark-skinned faces, whose pores are fainter. A mirrored photo's two passes are the original's
        two, swapped, so the answer is exactly the same either way round; mirroring each tile instead
        (its grid then falls on the skin where the mirrored photo's does not) kept 81-99% of the pores
        per Monk level. The passes run one tile at a time, so memory stays that of one tile."""
        x0, y0, x1, y1 = box
        width = x.shape[-1]
        maps = np.zeros((2, *x.shape[-2:]), np.float32)
        for (top, bottom, left, right), answer in self.tile_answers(x, box, release=False):
            maps[:, top:bottom, left:right] += answer
        for (top, bottom, left, right), answer in self.tile_answers(x[..., ::-1], (width - x1, y0, width - x0, y1)):
            maps[:, top:bottom, width - right:width - left] += answer[..., ::-1]
        maps *= np.float32(0.5)
        return maps[0], maps[1]

    def tile_answers(self, x: np.ndarray, box: tuple[int, int, int, int], release: bool = True
                     ) -> Iterator[tuple[tuple[int, int, int, int], np.ndarray]]:
        """For each tile over ``box`` of a (1, C, H, W) input: the part of the box its core covers (top,
        bottom, left, right) and the network's (probability, uncertainty) there, (2, h, w). The session
        keeps its working memory from tile to tile; ``release``: it hands it back after the last."""
        x0, y0, x1, y1 = box
        (ys, core_h), (xs, core_w) = tile_starts(y1 - y0), tile_starts(x1 - x0)
        # One tile per network pass: three 768 px tiles stacked took 1.1-2.0 s against 0.22 s for one
        # (benchmarks/bench_threads.py; their activations outgrow the caches). The pore stage of a 12 MP
        # photo went from 0.73 to 0.38 s with the same maps (a batch's tiles share their Monte-Carlo
        # masks anyway; measured before the mirrored pass), and its peak memory from about 0.3 GB to a
        # third of it.
        tile_h, tile_w = core_h + 2 * TILE_MARGIN, core_w + 2 * TILE_MARGIN
        last = (y0 + ys[-1], x0 + xs[-1])
        for top in (y0 + ty for ty in ys):
            for left in (x0 + tx for tx in xs):
                answer = self.run(window(x, top - TILE_MARGIN, left - TILE_MARGIN, tile_h, tile_w),
                                  release=release and (top, left) == last)[0]
                # A tile's working memory, freed between the tile windows and maps, would otherwise stay
                # with the process: a 12 MP analysis grew by about 15 MB per tile (2 ms per tile).
                release_freed_memory()
                h, w = min(core_h, y1 - top), min(core_w, x1 - left)
                core = answer[:, TILE_MARGIN:TILE_MARGIN + h, TILE_MARGIN:TILE_MARGIN + w]
                yield (top, top + h, left, left + w), core

    def __call__(self, rgb: np.ndarray, region: np.ndarray, pore_px: float,
                 mm_per_px: float | None = None) -> PoreResult:
        region = np.asarray(region, bool)
        if not region.any():
            raise PoreError("the region to analyse is empty")
        h, w = region.shape
        x0, y0, x1, y1 = bounding_box(region)
        scale = working_scale(pore_px)
        # The crop holds a tile margin of real context where the image has it.
        reach = math.ceil(TILE_MARGIN / scale)
        cx0, cy0, cx1, cy1 = max(0, x0 - reach), max(0, y0 - reach), min(w, x1 + reach), min(h, y1 + reach)
        crop = rgb[cy0:cy1, cx0:cx1]
        box = (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)
        if scale != 1:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            # One working pixel more on each side, so that resizing the maps back interpolates inside. In the
            # scale the resizing applied (the crop's sides are whole pixels): a mirrored photo gets the
            # mirrored box.
            sx, sy = crop.shape[1] / (cx1 - cx0), crop.shape[0] / (cy1 - cy0)
            box = (max(0, math.floor(box[0] * sx) - 1), max(0, math.floor(box[1] * sy) - 1),
                   min(crop.shape[1], math.ceil(box[2] * sx) + 1), min(crop.shape[0], math.ceil(box[3] * sy) + 1))
        inside = region[y0:y1, x0:x1]
        maps = []
        for part in self.probability(prepare_input(crop), box):
            if scale != 1:
                part = cv2.resize(part, (cx1 - cx0, cy1 - cy0),
                                  interpolation=cv2.INTER_LINEAR if scale < 1 else cv2.INTER_AREA)
            maps.append(np.where(inside, part[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0], np.float32(0)))
        probability, uncertainty = maps  # worked on at the size of the region's box; the frame only holds them
        # The threshold was chosen on validation data with the network's calibration (Calibration). A piece
        # of one of DoGPore's structures (a hair, a crease, a mole) is not a pore.
        structures = dog_pores_in_box(rgb, region, pore_px, (x0, y0, x1, y1)).structures
        mask, uncertain = sized_pores(split_at_peaks(probability >= self.threshold, probability, pore_px),
                                     uncertainty, pore_px, structures)
        maps = PoreMaps(probability, uncertainty, (x0, y0), (h, w))
        return PoreResult(maps.in_frame(mask), maps, mm_per_px, "psnet", pore_px,
                          uncertain + np.array([y0, x0], np.int32))


def split_at_peaks(candidates: np.ndarray, probability: np.ndarray, pore_px: float) -> np.ndarray:
    """``candidates`` (HxW bool) with every 8-connected component wider than SPLIT_DIAMETER pore diameters
    (equivalent diameter; at most MAX_SPLIT_DIAMETER) that holds several peaks of ``probability`` (its
    maxima within a disc PEAK_SEPARATION pore diameters wide) cut into one piece per pore
    (``pores_between_valleys``: peaks without a valley between them are one), along the pixels about as
    near to a second pore's peak as to their nearest (within CUT_WIDTH_PX): a line that keeps the pieces
    apart under 8-connectivity and, unlike giving each pixel to its nearest peak, falls the same way on a
    mirrored photo."""
    if not candidates.any():
        return candidates
    x0, y0, x1, y1 = bounding_box(candidates)
    inside, p = candidates[y0:y1, x0:x1], probability[y0:y1, x0:x1]
    peaks = inside & (p >= cv2.dilate(p, disc(PEAK_SEPARATION * pore_px)))
    count, components, stats, _ = cv2.connectedComponentsWithStats(inside.astype(np.uint8), connectivity=8)
    several_peaks = np.bincount(components[peaks], minlength=count) >= 2
    diameter = equivalent_diameter(stats[:, cv2.CC_STAT_AREA]) / pore_px  # in pore diameters
    wide = (diameter > SPLIT_DIAMETER) & (diameter <= MAX_SPLIT_DIAMETER)
    wide[0] = False  # the background
    split = inside.copy()
    for c in np.nonzero(several_peaks & wide)[0]:
        x, y, w, h = stats[c, :4]
        part = components[y:y + h, x:x + w] == c
        pieces, peak_ids = cv2.connectedComponents((peaks[y:y + h, x:x + w] & part).astype(np.uint8), connectivity=8)
        pore_of_peak = pores_between_valleys(peak_ids, pieces, p[y:y + h, x:x + w], VALLEY_REACH * pore_px)
        if pore_of_peak.max() <= 1:  # one pore, a few peaks on its top
            continue
        pore_ids = pore_of_peak[peak_ids]
        nearest = second = np.full((h, w), np.inf, np.float32)  # distances to the two nearest pores' peaks
        for k in range(1, int(pore_of_peak.max()) + 1):
            distance = cv2.distanceTransform((pore_ids != k).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            second = np.minimum(second, np.maximum(nearest, distance))
            nearest = np.minimum(nearest, distance)
        split[y:y + h, x:x + w] &= ~(part & (second - nearest < CUT_WIDTH_PX))
    out = candidates.copy()
    out[y0:y1, x0:x1] = split
    return out


def pores_between_valleys(peak_ids: np.ndarray, pieces: int, probability: np.ndarray, reach_px: float) -> np.ndarray:
    """For peak labels 0..pieces-1 (0 none) of a blob: a pore number per label (0 for none), peaks at most
    ``reach_px`` apart joined into one pore unless ``probability`` dips below VALLEY_SHARE of the lower one
    on the straight line between them (sampled bilinearly every pixel, so a mirrored blob is read the same
    way). Farther peaks join only through peaks between them, which keeps the pairs few."""
    ys, xs = np.nonzero(peak_ids)
    labels = peak_ids[ys, xs]
    count = np.bincount(labels, minlength=pieces)[1:]
    centres = np.stack([np.bincount(labels, xs, pieces)[1:], np.bincount(labels, ys, pieces)[1:]], 1) / count[:, None]
    tops = np.zeros(pieces, np.float32)
    np.maximum.at(tops, labels, probability[ys, xs])
    parent = list(range(pieces))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a in range(1, pieces):
        for b in range(a + 1, pieces):
            length = float(np.hypot(*(centres[b - 1] - centres[a - 1])))
            if length > reach_px:
                continue
            steps = int(np.ceil(length)) + 1
            t = np.linspace(0.0, 1.0, steps)[:, None]
            points = (1 - t) * centres[a - 1] + t * centres[b - 1]
            line = cv2.remap(probability, points[:, 0:1].astype(np.float32), points[:, 1:2].astype(np.float32),
                             cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if line.min() >= VALLEY_SHARE * min(tops[a], tops[b]):
                parent[root(b)] = root(a)
    roots = np.array([root(i) for i in range(pieces)])
    _, numbers = np.unique(roots[1:], return_inverse=True)
    return np.concatenate([[0], numbers + 1]).astype(np.int32)


def sized_pores(candidates: np.ndarray, uncertainty: np.ndarray, pore_px: float,
                structures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pores among the ``candidates`` mask and the ones the network is unsure of, from one labelling of
    its 8-connected components: the mask of the components at least MIN_PORE_DIAMETER pore diameters wide
    (equivalent diameter) that touch no ``structures`` pixel, and (K, 2) int32 (y, x) the most uncertain
    pixel of each kept pore whose ``uncertainty`` reaches UNCERTAIN_PORE there.

    With DoGPore's structures (dark lines and large dark blobs: hairs, creases, drawn lines, moles) this
    removes every detection on drawn lines and moles and a quarter of all false detections on the
    structures benchmark, at a rendered-pore Dice of 0.460 against 0.473."""
    if not candidates.any():
        return np.zeros_like(candidates), np.zeros((0, 2), np.int32)
    x0, y0, x1, y1 = bounding_box(candidates)
    _, components, stats, _ = cv2.connectedComponentsWithStats(candidates[y0:y1, x0:x1].astype(np.uint8),
                                                               connectivity=8)
    keep = equivalent_diameter(stats[:, cv2.CC_STAT_AREA]) >= MIN_PORE_DIAMETER * pore_px
    keep[np.unique(components[structures[y0:y1, x0:x1]])] = False
    keep[0] = False
    kept = keep[components]
    mask = np.zeros_like(candidates)
    mask[y0:y1, x0:x1] = kept
    ys, xs = np.nonzero(kept)
    if ys.size == 0:
        return mask, np.zeros((0, 2), np.int32)
    values = uncertainty[y0:y1, x0:x1][ys, xs]
    most_uncertain = component_peaks(components[ys, xs], values)
    unsure = most_uncertain[values[most_uncertain] >= UNCERTAIN_PORE]
    return mask, np.stack([ys[unsure] + y0, xs[unsure] + x0], axis=1).astype(np.int32)


def window(x: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """``x[..., top:top + height, left:left + width]`` of a (1, C, H, W) array, zero where that reaches
    past ``x``; a contiguous copy."""
    h, w = x.shape[-2:]
    part = np.zeros((*x.shape[:-2], height, width), np.float32)
    y0, x0 = max(0, top), max(0, left)
    inside = x[..., y0:min(h, top + height), x0:min(w, left + width)]
    part[..., y0 - top:y0 - top + inside.shape[-2], x0 - left:x0 - left + inside.shape[-1]] = inside
    return part


def face_region(rgb: np.ndarray, mm_per_px: float | None) -> tuple[np.ndarray, float | None, float]:
    """The pore region of the largest face (``poreseg.analysis.find_face``, as the app analyses it), its mm
    per pixel (``mm_per_px`` if given, else from the eye distance; None without a believable eye pair) and
    its expected pore diameter in pixels."""
    from poreseg.analysis import AnalysisError, find_face  # poreseg.analysis imports this module
    try:
        _, _, face = find_face(rgb, mm_per_px=mm_per_px)
    except AnalysisError:
        raise PoreError("no face found; pass a skin mask to analyse a close-up of skin") from None
    return face.region, face.mm_per_px, face.pore_px


def segment_pores(rgb: np.ndarray, skin_mask: np.ndarray | None = None, method: str = DEFAULT_METHOD,
                  mm_per_px: float | None = None, pore_px: float | None = None) -> PoreResult:
    """Pores of an RGB image (HxWx3 uint8; grey, RGBA, 16-bit and float arrays are converted).

    Without ``skin_mask`` the largest face is parsed and its skin (minus a margin around the features
    and the nostrils) is analysed, at the scale its eye distance gives. With ``skin_mask`` (HxW, nonzero
    = analyse) no face is needed; the pore scale then comes from ``mm_per_px`` or, without it, from the
    skin texture itself. ``pore_px``, the expected pore diameter in pixels, overrides both (a caller that
    has worked it out already, or measures a photo again at the same scale). ``method``: "psnet" (the
    network) or "dog" (DoGPore), a name of poreseg.pores.methods.METHODS.
    """
    if method not in METHODS:
        raise PoreError(f"unknown pore method {method!r}: choose one of {', '.join(METHODS)}")
    rgb = as_rgb8(rgb)
    if skin_mask is None:
        region, mm_per_px, face_pore_px = face_region(rgb, mm_per_px)
        pore_px = pore_px or face_pore_px
    else:
        region = np.asarray(skin_mask) != 0
        if region.ndim != 2:
            raise PoreError(f"the skin mask must be an HxW array, got shape {region.shape}")
        if region.shape != rgb.shape[:2]:
            raise PoreError(f"the skin mask is {region.shape[1]}x{region.shape[0]} pixels but the image is "
                            f"{rgb.shape[1]}x{rgb.shape[0]}")
    if not region.any():
        raise PoreError("no skin to analyse: the skin region is empty")
    if pore_px is None:
        pore_px = pore_px_from_mm_per_px(mm_per_px) if mm_per_px else estimate_pore_px(rgb, region)
    return METHODS[method].segment(rgb, region, pore_px, mm_per_px)
