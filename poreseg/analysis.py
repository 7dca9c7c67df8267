"""``analyze(rgb, options) -> Analysis``: from a decoded photo to pores, zones, scores and suggestions.

The stages, in order; each is timed (seconds) in ``Analysis.timings``:

    parse     face parsing: class labels, the largest face, how many faces
    portrait  the person's probability (for the cut-out); parser labels outside the face's feature box
              where the cut-out is transparent become background (poreseg.parsing.within_person)
    region    the face's geometry (poreseg.face.locate): frame, scale, window and analysis region. The
              quality, zones and metrics stages read only the window around the face
    quality   the quality gate (poreseg.quality): can pores be resolved in this photo?
    pores     pore segmentation inside the region (PS-Net or DoGPore); skipped when the gate says no
    zones     forehead, nose, left and right cheek, chin
    metrics   pore numbers per zone and for the whole face, and the pore score
    density   the pore density map
    suggest   product suggestions and a routine
    simulate  only with options.product: the product's before/after, pores and metrics measured again
              on the simulated photo

Input: an RGB array as poreseg.imageio.load_image returns it (grey, RGBA, 16-bit and float arrays are
converted). It is analysed at its own size, and memory grows with it (about 30 bytes per pixel at the
peak); load_image shrinks larger photos to MAX_WORKING_PIXELS (16 MP). No face raises AnalysisError with
a message for the user; several faces analyse the largest and say so in the warnings.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from poreseg.density import DensityMap, density_map
from poreseg.face import FaceWindow, locate
from poreseg.imageio import as_rgb8
from poreseg.metrics import FaceMetrics, Pores, find_pores, measure
from poreseg.parsing import FaceParsing, parse_face, within_person
from poreseg.pores.methods import DEFAULT_METHOD, METHODS, MethodName, check_method
from poreseg.pores.segment import PoreResult, segment_pores
from poreseg.portrait import segment_portrait
from poreseg.products import catalogue, get_product
from poreseg.quality import Quality, assess
from poreseg.schema import SCHEMA_VERSION, Report, SimulationReport
from poreseg.scores import score_tenths
from poreseg.simulate import FULL_COURSE_WEEKS, Simulation, simulate_product
from poreseg.suggest import Suggestions, suggest
from poreseg.zones import ZONE_TITLES, FaceFrame, FaceZones, face_zones


class AnalysisError(ValueError):
    """The photo cannot be analysed at all; the message says why, for the user."""


@dataclass
class AnalysisOptions:
    method: MethodName = DEFAULT_METHOD  # pore segmentation: a name of poreseg.pores.methods.METHODS
    product: str | None = None  # a catalogue id (poreseg/data/products.csv): simulate it
    strength: float = 1.0  # 0-1, how fully the product's routine is followed
    weeks: float = FULL_COURSE_WEEKS  # weeks of use

    def __post_init__(self):
        check_method(self.method)
        if self.product is not None and self.product not in catalogue():
            raise ValueError(f"unknown product {self.product!r}; known: {', '.join(catalogue())}")
        if not 0.0 <= self.strength <= 1.0 or self.weeks < 0:
            raise ValueError("strength must be in [0, 1] and weeks >= 0")


def metrics_dict(metrics: FaceMetrics) -> dict:
    """``metrics.to_dict()`` with each score to a tenth rounded down (poreseg.scores), so that it lies in
    the band beside it: rounded to the nearest, 69.96 would read 70.0, "Good"."""
    numbers = metrics.to_dict()
    for place, metric in [(numbers["face"], metrics.face), *zip(numbers["zones"].values(), metrics.zones.values())]:
        if metric.score is not None:
            place["score"] = score_tenths(metric.score)
    return numbers


@dataclass
class AfterProduct:
    """A product's simulated effect, measured like the original photo."""

    simulation: Simulation
    pores: PoreResult
    pore_objects: Pores
    metrics: FaceMetrics

    def to_dict(self) -> SimulationReport:
        s = self.simulation
        return {"product": s.product_id, "strength": s.strength, "weeks": s.weeks,
                "expected_reduction": round(s.expected_reduction, 4), "changed_pixels": int(s.changed.sum()),
                **metrics_dict(self.metrics)}


@dataclass
class Analysis:
    image_size: tuple[int, int]  # (height, width)
    method: str
    parsing: FaceParsing
    person: np.ndarray | None  # HxW float32 person probability (None in an app session, dashboard.session.Session)
    frame: FaceFrame
    region: np.ndarray  # HxW bool, where pores are analysed
    mm_per_px: float | None  # None when the eyes are not both visible
    pore_px: float  # expected pore diameter in pixels
    quality: Quality
    pores: PoreResult | None  # None when pores could not be measured (see warnings)
    zones: FaceZones
    pore_objects: Pores | None
    metrics: FaceMetrics
    density: DensityMap | None  # None without pores or without a scale
    suggestions: Suggestions
    warnings: list[str]
    timings: dict[str, float]
    after: AfterProduct | None = None

    @property
    def pores_measured(self) -> bool:
        return self.pores is not None

    def to_dict(self) -> Report:
        """JSON-serialisable summary, schema 1 (the CLI's report.json and the app's download; poreseg.schema)."""
        h, w = self.image_size
        return {
            "schema": SCHEMA_VERSION,
            "method": self.method,
            "mm_per_px": None if self.mm_per_px is None else round(self.mm_per_px, 5),
            "scale_source": "eye distance (63 mm assumed)" if self.mm_per_px is not None else None,
            "pore_px": round(self.pore_px, 3),
            "pores_measured": self.pores_measured,
            **metrics_dict(self.metrics),
            "warnings": list(self.warnings),
            "faces_found": self.parsing.faces_found,
            "face_box": None if self.parsing.face_box is None else list(self.parsing.face_box),
            "image": {"width": w, "height": h},
            "quality": self.quality.to_dict(),
            "suggestions": self.suggestions.to_dict(),
            "simulation": None if self.after is None else self.after.to_dict(),
            "timings": {stage: round(seconds, 4) for stage, seconds in self.timings.items()},
        }


class _Stopwatch:
    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def analyze(rgb: np.ndarray, options: AnalysisOptions | None = None) -> Analysis:
    """Analyse the largest face of an RGB photo (see the module docstring)."""
    options = options or AnalysisOptions()
    rgb = as_rgb8(rgb)
    clock = _Stopwatch()
    warnings: list[str] = []

    with clock.stage("parse"):
        parsing = parse_face(rgb)
    if parsing.faces_found == 0:
        raise AnalysisError("No face found. Use a photo with one face looking at the camera, well lit.")
    if parsing.faces_found > 1:
        warnings.append(f"{parsing.faces_found} faces found; the largest one was analysed.")
    with clock.stage("portrait"):
        person = segment_portrait(rgb)
        parsing = within_person(parsing, person)

    with clock.stage("region"):
        face = locate(rgb, parsing)
        window, region, mm_per_px, pore_px = face.window, face.region, face.mm_per_px, face.pore_px
        frame, window_region = face.frame, face.window_region
        window_labels, window_frame = window.crop(parsing.labels), window.frame(frame)
        if mm_per_px is None:
            warnings.append("The eyes are not both visible, so there is no millimetre scale: pore sizes and "
                            "densities are not given, only counts and the share of skin covered.")

    with clock.stage("quality"):
        quality = assess(window.crop(rgb), window_labels, window_region, window_frame, pore_px)
        warnings.extend(quality.warnings())
    pores = None
    if not window_region.any():
        warnings.append("No bare skin was found on the face to look for pores in.")
    elif quality.pores_measurable:
        with clock.stage("pores"):
            pores = segment_pores(rgb, skin_mask=region, method=options.method, mm_per_px=mm_per_px,
                                  pore_px=pore_px)

    with clock.stage("zones"):
        window_zones = face_zones(window_labels, window_region, window_frame, face.landmarks)
        zones = FaceZones(window.full(window_zones.labels), frame, window_zones.landmarks,
                          window_zones.too_little_skin)
        if zones.too_little_skin:
            names = " and ".join(ZONE_TITLES[zone] for zone in zones.too_little_skin)
            warnings.append(f"Too little skin is visible on the {names} to rate "
                            f"{'them' if len(zones.too_little_skin) > 1 else 'it'}: hair, a mask, a hand or "
                            "the pose hides the rest.")
    with clock.stage("metrics"):
        pore_objects = None if pores is None else shift(find_pores(window.crop(pores.mask), window_zones), window)
        metrics = measure(pore_objects, window_zones, mm_per_px, METHODS[options.method].reference)
    density = None
    if pore_objects is not None and mm_per_px is not None:
        with clock.stage("density"):
            density = density_map(pore_objects, zones, mm_per_px)
    with clock.stage("suggest"):
        suggestions = suggest(metrics)

    analysis = Analysis((rgb.shape[0], rgb.shape[1]), options.method, parsing, person, frame, region, mm_per_px,
                        pore_px, quality, pores, zones, pore_objects, metrics, density, suggestions, warnings,
                        clock.timings)
    if options.product is not None:
        if analysis.pores_measured:
            with clock.stage("simulate"):
                analysis.after = simulate(analysis, rgb, options.product, options.strength, options.weeks)
        else:
            warnings.append("The product simulation needs measured pores, so it was skipped.")
    clock.timings["total"] = sum(clock.timings.values())
    return analysis


def shift(pores: Pores, window: FaceWindow) -> Pores:
    """Pores found in ``window``, at their places in the full frame."""
    return replace(pores, centroids=pores.centroids + (window.x0, window.y0))


def simulate(analysis: Analysis, rgb: np.ndarray, product_id: str, strength: float = 1.0,
             weeks: float = FULL_COURSE_WEEKS) -> AfterProduct:
    """A product's before/after for an analysed photo, with pores and metrics measured again on the
    simulated photo (same method, region and scale). For the app's sliders: no new parsing."""
    if analysis.pores is None:
        raise AnalysisError("Pores could not be measured in this photo, so there is nothing to simulate.")
    simulation = simulate_product(as_rgb8(rgb), analysis.pores.mask, analysis.region, get_product(product_id),
                                  strength, weeks, analysis.pore_px)
    pores = segment_pores(simulation.after, skin_mask=analysis.region, method=analysis.method,
                          mm_per_px=analysis.mm_per_px, pore_px=analysis.pore_px)
    pore_objects = find_pores(pores.mask, analysis.zones)
    metrics = measure(pore_objects, analysis.zones, analysis.mm_per_px, analysis.metrics.reference)
    return AfterProduct(simulation, pores, pore_objects, metrics)
